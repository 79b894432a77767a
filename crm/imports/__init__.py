from flask import Blueprint

bp = Blueprint("imports", __name__)

from crm.imports import routes  # noqa: E402,F401


def _register_cli() -> None:
    from crm import seed
    from crm.cli import CLI_HOOKS

    if seed.register not in CLI_HOOKS:
        CLI_HOOKS.append(seed.register)


_register_cli()

from flask import Blueprint

bp = Blueprint("imports", __name__)

from crm.imports import routes  # noqa: E402,F401


def _register_cli() -> None:
    from crm.cli import CLI_HOOKS
    from crm.seed import cli as seed_cli

    if seed_cli.register not in CLI_HOOKS:
        CLI_HOOKS.append(seed_cli.register)


_register_cli()

"""The timeline: every activity on contacts, companies and deals."""

"""Built-in connectors. Each is a plugin registered through the `partner_hub` entry points."""

"""The Textual console: the app, its actions registry, screens and widgets."""

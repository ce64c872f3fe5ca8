"""YAML as configuration data: safe types only, and no aliases.

`yaml.safe_load` never runs code, but it expands aliases: nine nested levels of ten aliases each (a
"billion laughs" document of a few hundred bytes) become 10^9 nodes, and the process eats memory
until it is killed. Configs and recipes have no need of aliases, so a document that uses one is
refused before anything is built, naming the line; scanning the events costs time linear in the
text, whatever the aliases would have expanded to."""

from __future__ import annotations

from typing import Any


class YamlAliasError(ValueError):
    """A YAML document used an alias (`*name`)."""

    def __init__(self, line: int, column: int, anchor: str) -> None:
        super().__init__(f"YAML aliases are not allowed (line {line}, column {column}: *{anchor}); "
                         f"write the value out in full")
        self.line, self.column = line, column


def load_yaml(text: str) -> Any:
    """The document in `text` as plain Python data. Raises YamlAliasError for an alias and
    yaml.YAMLError for malformed YAML."""
    import yaml

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            raise YamlAliasError(mark.line + 1, mark.column + 1, event.anchor)
    return yaml.safe_load(text)

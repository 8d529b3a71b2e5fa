"""YAML as params files are read: YAML 1.2 booleans and a bound on what aliases expand to.

Only ``true``/``false`` are booleans (YAML 1.1 also reads ``no``, ``on``, ``off`` as booleans, so a
segment named ``no`` would become False), and a file whose aliases expand beyond
:data:`MAX_YAML_VALUES` values (a "billion laughs" file) is refused while it is composed, before
anything reads it as a tree.
"""

from __future__ import annotations

import re

import yaml

MAX_YAML_VALUES = 100_000  # values of the file once its aliases are expanded


class ParamsTooLarge(yaml.YAMLError):
    """The YAML expands, through its aliases, to more than :data:`MAX_YAML_VALUES` values."""


def expanded_size(node: yaml.Node, limit: int = MAX_YAML_VALUES) -> int:
    """How many values a composed YAML node holds once every alias is expanded (at most ``limit + 1``).

    An alias (``*name``) is the node its anchor (``&name``) names, shared, not copied: composing and
    constructing a "billion laughs" file is cheap, and only what reads the result as a tree (validation,
    an error message) explodes. Counting with one memo per node is linear in the file's size.

    Raises
    ------
    ParamsTooLarge
        Beyond ``limit`` values, or an alias that contains itself.

    Examples
    --------
    >>> expanded_size(yaml.compose("a: [1, 2]"))
    5
    >>> bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\\nc: [*b, *b]"
    >>> expanded_size(yaml.compose(bomb), limit=100)
    Traceback (most recent call last):
    ...
    cxlib.yaml12.ParamsTooLarge: more than 100 values once its aliases are expanded
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ParamsTooLarge("an alias that contains itself (a recursive structure)")
        open_nodes.add(key)
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        open_nodes.discard(key)
        if total > limit:
            raise ParamsTooLarge(f"more than {limit:,} values once its aliases are expanded")
        sizes[key] = total
        return total

    return size(node)


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (``yes``/``no``/``on``/``off`` stay strings) and a bound on
    what the aliases expand to (:func:`expanded_size`).

    Examples
    --------
    >>> yaml.load("segment: no\\nactive: true", Loader=Yaml12Loader)
    {'segment': 'no', 'active': True}
    """

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        expanded_size(node)
        return node


Yaml12Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

"""Edit a hand-written YAML file in place: only what changed is rewritten.

Re-dumping parsed data would strip every comment, reorder keys and drop the quoting a person
chose. Instead the file is loaded with ruamel.yaml's round-trip loader and only the nodes
whose values changed are replaced; everything else (comments, key order, quoting, flow or
block style, indentation) is emitted as it was written.

The change is described three-way: `base` is the file's data as the hardened reader
(expert.yamlio, YAML 1.1) parsed it, `new` is the data wanted. Values are compared on that
side only, so ruamel's YAML 1.2 reading of a scalar (`yes` is a string there, a boolean in
1.1) never counts as a change. New strings are quoted wherever PyYAML would quote them, and
the result is parsed back with the hardened reader: a round trip that would not read back as
`new` is refused (`EditError`), never written.
"""

from __future__ import annotations

import io
import itertools
import re
from difflib import SequenceMatcher
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from expert.errors import InputError
from expert.yamlio import parse_yaml_text

# Comments and directives before an explicit `---`: ruamel drops them, so they are kept as
# text and written back unchanged.
_PREAMBLE = re.compile(r"\A(?:(?:[ \t]*(?:#[^\n]*)?|%[^\n]*)\n)*---[ \t]*(?:#[^\n]*)?\n")
# How ruamel (YAML 1.2) reads a plain value: what it quotes when writing a string.
_RESOLVER = VersionedResolver()
_IMPLICIT = (True, False)  # as a plain scalar is resolved
_STR = "tag:yaml.org,2002:str"
_PARENT_KEY = re.compile(r"^( *(?:- +)*)[^\s#\-][^:#]*:[ \t]*(?:#.*)?$")


class EditError(Exception):
    """The file cannot be edited in place so that it reads back as the wanted data."""


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (True is not 1, 1 is not 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _indentation(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as the file writes them.

    ruamel applies one indentation to the whole document, so it must be the file's own or
    every nested line would move. Read from the first block mapping and the first block
    sequence nested under a key; defaults are PyYAML's block layout (2, 2, 0).
    """
    mapping = offset = None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for line, following in itertools.pairwise(lines):
        match = _PARENT_KEY.match(line)
        if not match:
            continue
        column = len(match.group(1))
        depth = len(following) - len(following.lstrip(" "))
        if following.lstrip(" ").startswith("-"):
            if offset is None and depth >= column:
                offset = depth - column
        elif mapping is None and depth > column:
            mapping = depth - column
        if mapping is not None and offset is not None:
            break
    offset = offset or 0
    return mapping or 2, offset + 2, offset


class Document:
    """One YAML file's text, loaded for round-trip editing."""

    def __init__(self, text: str) -> None:
        self.newline = "\r\n" if "\r\n" in text else "\n"
        text = text.replace("\r\n", "\n")
        match = _PREAMBLE.match(text)
        self.preamble = match.group(0) if match else ""
        body = text[len(self.preamble) :]
        self._yaml = YAML(typ="rt")
        self._yaml.preserve_quotes = True
        self._yaml.width = 4096  # never re-wrap a long line the person wrote on one line
        mapping, sequence, offset = _indentation(body)
        self._yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        try:
            self.root = self._yaml.load(body)
        except RuamelError as exc:
            raise EditError(f"cannot read the file for editing: {exc}") from None

    def update(self, base: Any, new: Any, order: Any = None) -> None:
        """Make the document hold `new`, given that it held `base`; `order` is the data in
        its canonical key order, used to place keys that are new to a mapping."""
        self.root = _sync(self.root, base, new, order)

    def text(self) -> str:
        out = io.StringIO()
        self._yaml.dump(self.root, out)
        return (self.preamble + out.getvalue()).replace("\n", self.newline)


def edited(doc: Document, base: Any, new: Any, order: Any, source: str) -> str:
    """The document's text after the change; EditError if it would not read back as `new`.

    The document is changed in place; after an EditError it must not be used again.
    """
    doc.update(base, new, order)
    try:
        text = doc.text()
    except (RuamelError, ValueError, TypeError, AttributeError) as exc:
        raise EditError(f"cannot write the change in place: {exc}") from None
    try:
        back, _lines = parse_yaml_text(text, source)
    except InputError as exc:
        raise EditError(f"the edited file would not read back: {exc}") from None
    if not same(back, new):
        raise EditError("the edited file would not read back as the answers given")
    return text


def spliced(text: str, base: Any, new: Any, source: str) -> str | None:
    """The text with each changed value rewritten where it is written, every other character
    kept; None when the change is more than new values for one-line scalars (a key added or
    removed, a list grown or reordered, a block scalar), which a `Document` edits instead.

    Re-emitting the whole document costs far more than the change (about 60 ms of CPU for a
    30-loop file, most of an answer's save), and answering again changes only values. A new
    value keeps the quotes of the one it replaces, or is quoted where PyYAML would quote it,
    as a `Document` writes it; the result must read back as `new` or None is returned.
    """
    changes: list[tuple[tuple[Any, ...], Any]] = []
    if "\r" in text or not _changed_scalars(base, new, (), changes) or not changes:
        return None
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    starts = list(itertools.accumulate((len(ln) for ln in text.splitlines(True)), initial=0))
    spans: list[tuple[int, int, str]] = []
    for path, value in changes:
        node: yaml.Node | None = root
        parent: yaml.Node | None = None
        for part in path:
            parent, node = node, _composed_child(node, part) if node is not None else None
        if node is None:
            return None
        written = _scalar_text(node, parent, value)
        if written is None:
            return None
        start = starts[node.start_mark.line] + node.start_mark.column
        end = starts[node.end_mark.line] + node.end_mark.column
        if (start, end) != (node.start_mark.index, node.end_mark.index):
            return None  # the marks do not count characters: not safe to cut by them
        spans.append((start, end, written))
    out = text
    for start, end, written in sorted(spans, reverse=True):  # from the end: offsets hold
        out = out[:start] + written + out[end:]
    try:
        back, _lines = parse_yaml_text(out, source)
    except InputError:
        return None
    return out if same(back, new) else None


def _changed_scalars(
    base: Any, new: Any, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], Any]]
) -> bool:
    """Collect in `out` the places where `new` has another scalar than `base`; False if
    anything else differs (keys, list lengths or ids, a value's kind)."""
    if same(base, new):
        return True
    if isinstance(base, dict) and isinstance(new, dict):
        return base.keys() == new.keys() and all(
            _changed_scalars(base[k], new[k], (*path, k), out) for k in base
        )
    if isinstance(base, list) and isinstance(new, list):
        if len(base) != len(new) or (keyed(base) and not keyed(new)):
            return False
        if keyed(base) and [b["id"] for b in base] != [n["id"] for n in new]:
            return False
        return all(
            _changed_scalars(b, n, (*path, i), out)
            for i, (b, n) in enumerate(zip(base, new, strict=True))
        )
    one_line = (str, int, bool)  # no floats: PyYAML and ruamel write some differently
    if type(base) in one_line and type(new) in one_line:
        out.append((path, new))
        return True
    return False


def _composed_child(node: yaml.Node, part: Any) -> yaml.Node | None:
    """The composed node under `part` (a key or an index), None if it is not plainly there."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        keys = [k.value if isinstance(k, yaml.ScalarNode) else None for k, _v in node.value]
        if keys.count(part) != 1 or "<<" in keys:  # a merge key could hold it too
            return None
        found: yaml.Node = node.value[keys.index(part)][1]
        return found
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None


def _scalar_text(node: yaml.Node, parent: yaml.Node | None, value: Any) -> str | None:
    """How `value` is written in place of `node`: in its quotes, or plain where PyYAML would
    write it plain. None for a node that is not a one-line scalar of a block collection."""
    if (
        not isinstance(node, yaml.ScalarNode)
        or node.style not in (None, "", "'", '"')
        or node.start_mark.line != node.end_mark.line
        or not isinstance(parent, yaml.CollectionNode)
        or parent.flow_style
    ):
        return None
    quoted = node.style if isinstance(value, str) and node.style in ("'", '"') else None
    written = yaml.safe_dump(value, default_style=quoted, width=1 << 30, allow_unicode=True)
    written = written.removesuffix("\n...\n").removesuffix("\n")
    if "\n" in written:
        return None
    if written == value and _RESOLVER.resolve(ScalarNode, value, _IMPLICIT) != _STR:
        return None  # plain in YAML 1.1 but not a string in 1.2 (0o7): a Document quotes it
    return written


def _child(order: Any, key: Any) -> Any:
    if isinstance(order, dict):
        return order.get(key)
    if isinstance(order, list) and isinstance(key, int) and 0 <= key < len(order):
        return order[key]
    return None


def keyed(items: list[Any]) -> bool:
    """Items that are mappings with distinct string ids (loops, resources): matched by id."""
    ids = [item.get("id") if isinstance(item, dict) else None for item in items]
    return all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids)


def _sync(node: Any, base: Any, new: Any, order: Any) -> Any:
    """The node for `new`: `node` itself, changed only where `base` and `new` differ."""
    if same(base, new):
        return node
    if isinstance(node, CommentedMap) and isinstance(base, dict) and isinstance(new, dict):
        for key in [k for k in node if k not in new]:
            del node[key]
        for key, value in new.items():
            if key in node and key in base:
                child = _sync(node[key], base[key], value, _child(order, key))
                if child is not node[key]:
                    node[key] = child  # keeps the comments attached to the key
            else:
                _insert(node, key, _fresh(value, _child(order, key)), order)
        return node
    if (
        isinstance(node, CommentedSeq)
        and isinstance(base, list)
        and isinstance(new, list)
        and len(node) == len(base)
        and ((keyed(base) and keyed(new)) or all(isinstance(x, (dict, list)) for x in base))
    ):
        _sync_list(node, base, new, order)
        return node
    return _fresh(new, order, like=node)


def _sync_list(node: CommentedSeq, base: list[Any], new: list[Any], order: Any) -> None:
    """Items matched by id (or by place), so one changed loop leaves the others untouched."""
    if keyed(base) and keyed(new):
        old_keys, new_keys = [b["id"] for b in base], [n["id"] for n in new]
    else:
        old_keys, new_keys = list(range(len(base))), list(range(len(new)))
    ops = SequenceMatcher(None, old_keys, new_keys, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(ops):  # from the end: earlier indexes stay valid
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):  # same place: renamed
            for k in range(i2 - i1):
                child = _sync(node[i1 + k], base[i1 + k], new[j1 + k], _child(order, j1 + k))
                if child is not node[i1 + k]:
                    node[i1 + k] = child
            continue
        for k in reversed(range(i1, i2)):
            del node[k]
        for k in range(j1, j2):
            value = _fresh(new[k], _child(order, k))
            if i1 + k - j1 == len(node):
                _append(node, lambda v=value: node.append(v))
            else:
                node.insert(i1 + k - j1, value)


def _insert(node: CommentedMap, key: Any, value: Any, order: Any) -> None:
    """Insert where the canonical order puts the key among those the file already has."""
    canonical = list(order) if isinstance(order, dict) else []
    rank = canonical.index(key) if key in canonical else len(canonical)
    keys = list(node)
    known = [i for i, k in enumerate(keys) if k in canonical]
    before = [i for i in known if canonical.index(keys[i]) < rank]
    position = before[-1] + 1 if before else (0 if known else len(keys))
    if position == len(keys):
        _append(node, lambda: node.__setitem__(key, value))
    else:
        node.insert(position, key, value)


def _last_entry(node: Any) -> tuple[Any, Any, int] | None:
    """(container, key, slot) of a block node's innermost last entry: where ruamel keeps
    the blank lines and comments that follow the node."""
    found: tuple[Any, Any, int] | None = None
    while isinstance(node, (CommentedMap, CommentedSeq)) and node and not node.fa.flow_style():
        if isinstance(node, CommentedMap):
            key: Any = list(node)[-1]
            found = (node, key, 2)
        else:
            key = len(node) - 1
            found = (node, key, 0)
        node = node[key]
    return found


def _append(node: Any, add: Any) -> None:
    """Add an entry at the end of node, keeping the blank lines and comments that followed
    the old last entry after the new one (they separate it from what comes next)."""
    before = _last_entry(node)
    add()
    after = _last_entry(node)
    if before is None or after is None:
        return
    holder, key, slot = before
    entry = holder.ca.items.get(key)
    token = entry[slot] if entry and len(entry) > slot else None
    if not isinstance(token, CommentToken):
        return
    head, _newline, tail = token.value.partition("\n")
    target, target_key, target_slot = after
    if not tail or target_key in target.ca.items:
        return
    token.value = head + "\n"
    slots: list[Any] = [None, None, None, None]
    slots[target_slot] = CommentToken("\n" + tail, CommentMark(0))
    target.ca.items[target_key] = slots


def _fresh(value: Any, order: Any, like: Any = None) -> Any:
    """A new node for value, in the style of the node it replaces (if any)."""
    if isinstance(value, dict):
        canonical = list(order) if isinstance(order, dict) else []
        keys = sorted(value, key=lambda k: canonical.index(k) if k in canonical else len(canonical))
        out = CommentedMap((k, _fresh(value[k], _child(order, k))) for k in keys)
        if isinstance(like, CommentedMap) and like.fa.flow_style():
            out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_fresh(v, _child(order, i)) for i, v in enumerate(value))
        if isinstance(like, CommentedSeq) and like.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str):
        if isinstance(like, (SingleQuotedScalarString, DoubleQuotedScalarString)):
            return type(like)(value)
        plain = yaml.safe_dump(value, width=1 << 30, allow_unicode=True)
        if plain.startswith("'"):
            return SingleQuotedScalarString(value)
        if plain.startswith('"'):
            return DoubleQuotedScalarString(value)
    return value

"""The Graph API's ``fields`` parameter: ``a,b.limit(0),c{d,e.after(X){f}}``.

Each field has a name, modifiers (``.summary(total_count)``, ``.username(kominfo)``,
``.limit(0)``, ``.after(cursor)``) and optionally nested fields in braces.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class FieldsError(ValueError):
    """The expression is malformed; the message says where."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    modifiers: dict[str, str] = field(default_factory=dict)
    children: tuple[FieldSpec, ...] = ()

    def child(self, name: str) -> FieldSpec | None:
        return next((c for c in self.children if c.name == name), None)

    def render(self) -> str:
        text = self.name + "".join(f".{k}({v})" for k, v in self.modifiers.items())
        if self.children:
            text += "{" + ",".join(c.render() for c in self.children) + "}"
        return text


def parse(text: str) -> tuple[FieldSpec, ...]:
    """Parse a whole ``fields`` value; raises FieldsError."""
    parser = _Parser(text.replace(" ", ""))
    specs = parser.fields()
    if parser.pos != len(parser.text):
        raise FieldsError(f"unexpected {parser.text[parser.pos]!r} at {parser.pos}")
    return specs


def names(specs: tuple[FieldSpec, ...]) -> set[str]:
    return {spec.name for spec in specs}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise FieldsError(f"expected {char!r} at {self.pos}")
        self.pos += 1

    def word(self) -> str:
        start = self.pos
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.pos += 1
        if start == self.pos:
            raise FieldsError(f"expected a field name at {self.pos}")
        return self.text[start : self.pos]

    def argument(self) -> str:
        start = self.pos
        while self.peek() and self.peek() not in "()":
            self.pos += 1
        return self.text[start : self.pos]

    def fields(self) -> tuple[FieldSpec, ...]:
        specs = [self.one()]
        while self.peek() == ",":
            self.pos += 1
            specs.append(self.one())
        return tuple(specs)

    def one(self) -> FieldSpec:
        name = self.word()
        modifiers: dict[str, str] = {}
        while self.peek() == ".":
            self.pos += 1
            key = self.word()
            self.expect("(")
            modifiers[key] = self.argument()
            self.expect(")")
        children: tuple[FieldSpec, ...] = ()
        if self.peek() == "{":
            self.pos += 1
            children = self.fields()
            self.expect("}")
        return FieldSpec(name, modifiers, children)

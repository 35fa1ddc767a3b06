"""The objective language: a tokenizer and a recursive-descent parser into a small expression tree.

Grammar (whitespace ignored, names case-insensitive)::

    objective := sum [ "s.t." bound ("," bound)* ]
    sum       := ["-"] product (("+" | "-") product)*
    product   := NUMBER "*" atom | NUMBER | atom          # a bare NUMBER is a constant (the names' scale)
    atom      := NAME | FUNC "(" sum ("," sum)* [";" "tau" "=" NUMBER] ")" | "(" sum ")"
    bound     := (NAME | "others") "<" NUMBER            # a probability in (0, 1); a regressor: its units
    FUNC      := max | min | mean | softmax | softmin     # tau only for softmax / softmin

``NAME`` is an output the oracle names: a classifier's cell type (``hepg2``, ``k562``, ``gm12878``,
``hesc``), standing for its log-odds (nats), or a regressor's output, standing for its prediction (the
regressor's units; ``scale = "prediction"``, see ``objective_scale``). Functions take sub-expressions
and constants, so a saturating reward is ``min(hesc - max(hepg2,k562,gm12878), 4)``. Anything else
is refused with one line naming the problem and its 1-based column. The tree is in
``dnadav.objectives.tree``."""

from __future__ import annotations

import math
import re

import numpy as np

from dnadav.errors import InputError, shown
from dnadav.objectives.tree import Bound, Call, Constant, Name, Node, ParsedObjective, Scale, Sum, node_names

__all__ = [
    "FLOAT32_MAX",
    "MAX_DEPTH",
    "MAX_NUMBER",
    "MIN_TAU",
    "FUNCTIONS",
    "Name",
    "Constant",
    "Call",
    "Sum",
    "Node",
    "Bound",
    "ParsedObjective",
    "Scale",
    "node_names",
    "parse_objective",
]

FUNCTIONS = ("max", "min", "mean", "softmax", "softmin")
# Rewards are computed in float32 (the oracles' dtype): numbers are checked there, not in Python's float64.
FLOAT32_MAX = 3.4028234663852886e38
MAX_NUMBER = 1e6  # |weight|, |constant| and tau at most this: a reward of log-odds times it stays finite in float32
MIN_TAU = 1e-6  # tau at least this: values / tau stays finite in float32
MAX_DEPTH = 64  # nested parentheses and calls: the parser and the evaluator recurse once per level
_SMOOTH = ("softmax", "softmin")
_TOKEN = re.compile(
    r"\s*(?:(?P<st>s\.t\.)|(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*(),;=<]))"
)


class _Parser:
    def __init__(self, text: str, names: tuple[str, ...], scale: Scale):
        self.text, self.known, self.scale = text, {n.lower(): n for n in names}, scale
        self.kind = "output" if scale == "prediction" else "cell type"
        self.noun = f"an {self.kind}" if scale == "prediction" else f"a {self.kind}"
        self.tokens: list[tuple[str, str, int]] = []  # (kind, value, 1-based column)
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                column = position + len(text[position:]) - len(text[position:].lstrip()) + 1
                self.fail(f"unexpected character {text[column - 1]!r}", column)
            kind = match.lastgroup
            start = match.start(kind) + 1
            self.tokens.append((kind, match.group(kind), start))
            position = match.end()
        self.tokens.append(("end", "", len(text) + 1))
        self.index, self.depth = 0, 0

    def fail(self, problem: str, column: int):
        raise InputError(f"objective {shown(self.text)}: {problem} at position {column}")

    def nested(self, column: int) -> None:
        """Count one more level of nesting; refuse past ``MAX_DEPTH`` (the parser recurses per level)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"nested deeper than {MAX_DEPTH} levels", column)

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.index]

    def take(self, kind: str, value: str | None = None, expected: str = "") -> tuple[str, str, int]:
        token = self.peek()
        if token[0] != kind or (value is not None and token[1] != value):
            found = "the end" if token[0] == "end" else repr(token[1])
            self.fail(f"expected {expected or repr(value)}, found {found}", token[2])
        self.index += 1
        return token

    def is_op(self, value: str) -> bool:
        kind, text, _ = self.peek()
        return kind == "op" and text == value

    def number(self, what: str, low: float = -MAX_NUMBER, high: float = MAX_NUMBER) -> float:
        """The next token as a number in [low, high] (checked as the float32 it will be used as)."""
        _, text, column = self.take("number", expected=what)
        value = float(text)
        if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
            self.fail(f"{shown(text)} is not a finite float32 number (rewards are float32)", column)
        if not low <= value <= high:
            self.fail(f"{shown(text)} is outside [{low:g}, {high:g}], the range kept finite in float32", column)
        return value

    def cell_type(self) -> str:
        kind, text, column = self.peek()
        if kind != "name":
            self.take("name", expected=f"{self.noun} ({', '.join(self.known)})")
        if text.lower() not in self.known:
            hint = " (functions need parentheses)" if text.lower() in FUNCTIONS else ""
            self.fail(f"unknown name {text!r}{hint}; expected one of {', '.join(self.known)}", column)
        self.index += 1
        return self.known[text.lower()]

    def atom(self) -> Node:
        kind, text, column = self.peek()
        if kind == "op" and text == "(":
            self.nested(column)
            self.index += 1
            inner = self.sum()
            self.take("op", ")", "'+', '-' or ')'")
            self.depth -= 1
            return inner
        if kind == "name" and text.lower() in FUNCTIONS:
            function = text.lower()
            self.nested(column)
            self.index += 1
            self.take("op", "(", "'(' after " + function)
            args = [self.sum()]
            while self.is_op(","):
                self.index += 1
                args.append(self.sum())
            tau = 1.0
            if self.is_op(";"):
                semicolon = self.peek()[2]
                self.index += 1
                if function not in _SMOOTH:
                    self.fail(f"{function}() takes no options (tau is for softmax/softmin)", semicolon)
                option = self.take("name", expected="tau")
                if option[1].lower() != "tau":
                    self.fail(f"unknown option {option[1]!r}; expected tau", option[2])
                self.take("op", "=", "'=' after tau")
                tau = self.number("a positive number for tau", MIN_TAU, MAX_NUMBER)
            self.take("op", ")", "',' or ')'" if function not in _SMOOTH else "',', ';' or ')'")
            self.depth -= 1
            return Call(function, tuple(args), tau)
        if kind != "name":
            found = "the end" if kind == "end" else repr(text)
            self.fail(f"expected {self.noun} ({', '.join(self.known)}), a function, a number or '(', found {found}", column)
        return Name(self.cell_type())

    def product(self) -> tuple[float, Node]:
        if self.peek()[0] == "number":
            value = self.number("a number")
            if not self.is_op("*"):
                return 1.0, Constant(value)
            self.index += 1
            return value, self.atom()
        return 1.0, self.atom()

    def sum(self) -> Node:
        sign = 1.0
        if self.is_op("-"):
            self.index += 1
            sign = -1.0
        weight, node = self.product()
        terms = [(sign * weight, node)]
        while self.is_op("+") or self.is_op("-"):
            sign = 1.0 if self.take("op")[1] == "+" else -1.0
            weight, node = self.product()
            terms.append((sign * weight, node))
        if len(terms) == 1 and terms[0][0] == 1.0:
            return terms[0][1]  # a lone term is itself: no one-term Sum around every argument
        return Sum(tuple(terms))

    def bounds(self, mentioned: tuple[str, ...]) -> list[Bound]:
        bounds: list[Bound] = []
        while True:
            kind, text, column = self.peek()
            if kind == "name" and text.lower() == "others":
                self.index += 1
                names = [n for n in self.known.values() if n not in mentioned]
            else:
                names = [self.cell_type()]
            if self.scale == "prediction":  # a regressor's bound is on its prediction, in its units
                self.take("op", "<", "'<' and a number")
                threshold = self.number("a number (the output's units)")
            else:
                self.take("op", "<", "'<' and a probability")
                number_column = self.peek()[2]
                threshold = self.number("a probability in (0, 1)")
                if not 0.0 < float(np.float32(threshold)) < 1.0:  # its logit is taken in float32
                    self.fail(f"threshold {threshold!r} is not a probability in (0, 1) in float32", number_column)
            for name in names:
                if name in mentioned:
                    self.fail(f"{name} is both maximised and bounded", column)
                bounds.append(Bound(name, threshold))
            if not self.is_op(","):
                return bounds
            self.index += 1

    def parse(self) -> ParsedObjective:
        if self.peek()[0] == "end":
            self.fail("empty objective; expected e.g. 'hepg2 - max(k562,gm12878,hesc)'", 1)
        expression = self.sum()
        mentioned = tuple(dict.fromkeys(node_names(expression)))
        bounds: list[Bound] = []
        if self.peek()[0] == "st":
            self.index += 1
            bounds = self.bounds(mentioned)
            if not bounds:
                self.fail("'s.t.' needs at least one bound", self.peek()[2])
        token = self.peek()
        if token[0] != "end":
            self.fail(f"unexpected {token[1]!r} (expected '+', '-', 's.t.' or the end)", token[2])
        if not mentioned:
            self.fail(f"the objective mentions no {self.kind}", 1)
        return ParsedObjective(self.text, expression, tuple(bounds), self.scale)


def parse_objective(
    text: str, names: tuple[str, ...] = ("hepg2", "k562", "gm12878", "hesc"), scale: Scale = "log-odds"
) -> ParsedObjective:
    """Parse ``text`` (see the module docstring) over the output ``names`` (matched case-insensitively;
    the returned names are spelled as in ``names``); ``scale`` says what they stand for, and so what a
    bound's number is (a probability for ``"log-odds"``, a prediction for ``"prediction"``). Raises
    ``InputError`` (one line) on anything else."""
    if not isinstance(text, str):
        raise InputError(f"objective must be a string; got {type(text).__name__}")
    if scale not in ("log-odds", "prediction"):
        raise ValueError(f"scale must be 'log-odds' or 'prediction'; got {scale!r}")
    return _Parser(text, tuple(names), scale).parse()

"""The parser: tokens into a syntax tree, with Nunjucks' grammar and operator precedence.

It follows Nunjucks' recursive descent: `or` < `and` < `not` < `in` < `is` < comparisons < `~`
< `+` < `-` < `*` < `/` < `//` < `%` < `**` < unary < filters and postfix lookups. Nunjucks then
prints the tree as JavaScript, which regroups chains of operators by JavaScript's precedence;
the compiler does that regrouping (see `reassociate`).
"""

from __future__ import annotations

import re
from typing import NoReturn

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks import nodes as n
from wsllm.evals.nunjucks import statements
from wsllm.evals.nunjucks.jsregex import JsRegExp
from wsllm.evals.nunjucks.lexer import Lexer, Token
from wsllm.evals.nunjucks.numbers import SAFE_INTEGER, WHITESPACE

_COMPARE = ("==", "===", "!=", "!==", "<", ">", "<=", ">=")
_CLOSERS = ("right-paren", "right-bracket", "right-curly")
_UNSUPPORTED = ("extends", "include", "import", "from")
_JS_SPACE = "[" + re.escape(WHITESPACE) + "]"
_LEADING_SPACE = re.compile(f"^{_JS_SPACE}+")
_TRAILING_SPACE = re.compile(f"{_JS_SPACE}+$")


def parse(source: str) -> list[n.Node]:
    """The statements of a whole template; ConfigError for a syntax error."""
    return Parser(source).parse_nodes()


class Parser:
    """Nunjucks' parser, one method per grammar rule."""

    def __init__(self, source: str) -> None:
        self.lexer = Lexer(source)
        self.peeked: Token | None = None
        self.has_peeked = False
        self.break_on: tuple[str, ...] = ()
        self.drop_leading_space = False

    # Tokens.

    def next_token(self, with_whitespace: bool = False) -> Token | None:
        if self.has_peeked:
            token = self.peeked
            self.has_peeked, self.peeked = False, None
            if with_whitespace or token is None or token.type != "whitespace":
                return token
        token = self.lexer.next_token()
        while not with_whitespace and token is not None and token.type == "whitespace":
            token = self.lexer.next_token()
        return token

    def peek(self) -> Token | None:
        if not self.has_peeked:
            self.peeked, self.has_peeked = self.next_token(), True
        return self.peeked

    def push_back(self, token: Token | None) -> None:
        if self.has_peeked:
            self.fail("unexpected token")
        self.peeked, self.has_peeked = token, True

    def fail(self, message: str, token: Token | None = None) -> NoReturn:
        if token is None:
            token = self.peek() if not self.has_peeked else self.peeked
        line = token.line if token else self.lexer.line
        column = token.column if token else self.lexer.column
        raise ConfigError(
            f"template syntax error on line {line + 1}: {message} (column {column + 1})"
        )

    def skip(self, kind: str) -> bool:
        token = self.next_token()
        if token is None or token.type != kind:
            self.push_back(token)
            return False
        return True

    def skip_value(self, kind: str, value: str) -> bool:
        token = self.next_token()
        if token is None or token.type != kind or token.value != value:
            self.push_back(token)
            return False
        return True

    def skip_symbol(self, name: str) -> bool:
        return self.skip_value("symbol", name)

    def expect(self, kind: str) -> Token:
        token = self.next_token()
        if token is None:
            self.fail(f"expected {kind}, got end of file")
        if token.type != kind:
            self.fail(f"expected {kind}, got {token.type}", token)
        return token

    def peek_type(self) -> str:
        token = self.peek()
        if token is None:
            self.fail("unexpected end of file")
        return token.type

    def end_of_block(self, name: str | None = None) -> None:
        """Move past the `%}` closing a tag (and its name, when not given)."""
        if name is None:
            token = self.peek()
            if token is None:
                self.fail("unexpected end of file")
            if token.type != "symbol":
                self.fail("expected a tag name", token)
            name = self.next_token().value  # type: ignore[union-attr]
        token = self.next_token()
        if token is None or token.type != "block-end":
            self.fail(f"expected block end in {name} statement", token)
        if token.value.startswith("-"):
            self.drop_leading_space = True

    def end_of_variable(self) -> None:
        token = self.next_token()
        if token is None or token.type != "variable-end":
            self.push_back(token)
            self.fail("expected variable end")
        self.drop_leading_space = token.value.startswith("-")

    # Template structure.

    def parse_nodes(self) -> list[n.Node]:
        body: list[n.Node] = []
        while (token := self.next_token()) is not None:
            if token.type == "data":
                body.append(self._text(token))
            elif token.type == "block-start":
                self.drop_leading_space = False
                statement = self.parse_statement()
                if statement is None:
                    break
                body.append(statement)
            elif token.type == "variable-start":
                expression = self.parse_expression()
                self.drop_leading_space = False
                self.end_of_variable()
                body.append(n.Output(token.line + 1, [expression]))
            elif token.type == "comment":
                self.drop_leading_space = token.value[-3:-2] == "-"
            else:
                self.fail(f"unexpected token at top level: {token.type}", token)
        return body

    def _text(self, token: Token) -> n.Output:
        text: str = token.value
        if self.drop_leading_space:
            text = _LEADING_SPACE.sub("", text)
            self.drop_leading_space = False
        following = self.peek()
        if following is not None and _trims_before(following):
            text = _TRAILING_SPACE.sub("", text)
        return n.Output(token.line + 1, [text])

    def parse_until(self, *names: str) -> list[n.Node]:
        previous, self.break_on = self.break_on, names
        body = self.parse_nodes()
        self.break_on = previous
        return body

    def parse_statement(self) -> n.Node | None:
        token = self.peek()
        if token is None:
            self.fail("unexpected end of file")
        if token.type != "symbol":
            self.fail("tag name expected", token)
        if token.value in self.break_on:
            return None
        if token.value in _UNSUPPORTED:
            self.fail(f"{{% {token.value} %}} is not supported: templates load no files", token)
        rule = statements.RULES.get(token.value)
        if rule is None:
            self.fail(f"unknown block tag: {token.value}", token)
        return rule(self)

    # Expressions, loosest first.

    def parse_expression(self) -> n.Node:
        node = self.parse_or()
        if self.skip_symbol("if"):
            cond = self.parse_or()
            otherwise = self.parse_or() if self.skip_symbol("else") else None
            node = n.InlineIf(node.line, cond, node, otherwise)
        return node

    def parse_or(self) -> n.Node:
        node = self.parse_and()
        while self.skip_symbol("or"):
            node = n.Binary(node.line, "or", node, self.parse_and())
        return node

    def parse_and(self) -> n.Node:
        node = self.parse_not()
        while self.skip_symbol("and"):
            node = n.Binary(node.line, "and", node, self.parse_not())
        return node

    def parse_not(self) -> n.Node:
        token = self.peek()
        if self.skip_symbol("not"):
            return n.Unary(token.line + 1, "not", self.parse_not())  # type: ignore[union-attr]
        return self.parse_in()

    def parse_in(self) -> n.Node:
        node = self.parse_is()
        while (token := self.next_token()) is not None:
            invert = token.type == "symbol" and token.value == "not"
            if not invert:
                self.push_back(token)
            if self.skip_symbol("in"):
                node = n.In(node.line, node, self.parse_is())
                if invert:
                    node = n.Unary(node.line, "not", node)
            else:
                if invert:
                    self.fail("expected in after not", token)
                break
        return node

    def parse_is(self) -> n.Node:
        node = self.parse_compare()
        if self.skip_symbol("is"):
            invert = self.skip_symbol("not")
            node = n.Is(node.line, node, self.parse_compare())
            if invert:
                node = n.Unary(node.line, "not", node)
        return node

    def parse_compare(self) -> n.Node:
        first = self.parse_concat()
        rest: list[tuple[str, n.Node]] = []
        while (token := self.next_token()) is not None:
            if token.value in _COMPARE and token.type in ("operator", "string"):
                rest.append((token.value, self.parse_concat()))
            else:
                self.push_back(token)
                break
        return n.Compare(first.line, first, rest) if rest else first

    def parse_concat(self) -> n.Node:
        node = self.parse_binary(0)
        while self.skip_value("tilde", "~"):
            node = n.Binary(node.line, "~", node, self.parse_binary(0))
        return node

    def parse_binary(self, level: int) -> n.Node:
        """`+`, `-`, `*`, `/`, `//`, `%` and `**`, each a level tighter than the one before."""
        if level == len(_ARITHMETIC):
            return self.parse_unary()
        operator = _ARITHMETIC[level]
        node = self.parse_binary(level + 1)
        while self.skip_value("operator", operator):
            node = n.Binary(node.line, operator, node, self.parse_binary(level + 1))
        return node

    def parse_unary(self, filters: bool = True) -> n.Node:
        token = self.peek()
        line = token.line + 1 if token else self.lexer.line + 1
        if self.skip_value("operator", "-"):
            node: n.Node = n.Unary(line, "-", self.parse_unary(False))
        elif self.skip_value("operator", "+"):
            node = n.Unary(line, "+", self.parse_unary(False))
        else:
            node = self.parse_primary()
        return self.parse_filters(node) if filters else node

    def parse_primary(self, postfix: bool = True) -> n.Node:
        token = self.next_token()
        if token is None:
            self.fail("expected expression, got end of file")
        line = token.line + 1
        node: n.Node | None
        if token.type in _LITERALS:
            node = n.Literal(line, self._literal(token))
        elif token.type == "symbol":
            node = n.Symbol(line, token.value)
        else:
            self.push_back(token)
            node = self.parse_aggregate()
        if postfix and node is not None:
            node = self.parse_postfix(node)
        if node is None:
            self.fail(f"unexpected token: {token.value}", token)
        return node

    def _literal(self, token: Token) -> object:
        if token.type == "string":
            return token.value
        if token.type == "int":
            number = int(token.value)
            return number if number <= SAFE_INTEGER else float(token.value)
        if token.type == "float":
            return float(token.value)
        if token.type == "boolean":
            return token.value == "true"
        if token.type == "regex":
            source, flags = token.value
            if len(set(flags)) < len(flags):
                self.fail(f"invalid regular expression flags: {flags}", token)
            return JsRegExp(source, flags)
        return None

    def parse_postfix(self, node: n.Node) -> n.Node:
        while (token := self.peek()) is not None:
            if token.type == "left-paren":
                args, kwargs = self.parse_signature()
                node = n.Call(token.line + 1, node, args, kwargs)
            elif token.type == "left-bracket":
                index = self.parse_aggregate()
                assert isinstance(index, n.ArrayLiteral)
                if len(index.items) != 1:
                    self.fail("invalid index", token)
                node = n.Lookup(token.line + 1, node, index.items[0])
            elif token.type == "operator" and token.value == ".":
                self.next_token()
                name = self.next_token()
                if name is None or name.type != "symbol":
                    self.fail(f"expected name as lookup value, got {name and name.value}", name)
                node = n.Lookup(token.line + 1, node, n.Literal(name.line + 1, name.value))
            else:
                break
        return node

    def parse_filters(self, node: n.Node) -> n.Node:
        while self.skip("pipe"):
            name = self.parse_filter_name()
            args, kwargs = self.parse_signature() if self.peek_type() == "left-paren" else ([], [])
            node = n.FilterCall(node.line, name, [node, *args], kwargs)
        return node

    def parse_filter_name(self) -> str:
        name: str = self.expect("symbol").value
        while self.skip_value("operator", "."):
            name += "." + self.expect("symbol").value
        return name

    def parse_aggregate(self) -> n.Node | None:
        token = self.next_token()
        kind = token.type if token else None
        if kind not in ("left-paren", "left-bracket", "left-curly"):
            return None
        assert token is not None
        items: list[n.Node] = []
        pairs: list[tuple[n.Node, n.Node]] = []
        while self.peek_type() not in _CLOSERS:
            if (items or pairs) and not self.skip("comma"):
                self.fail("expected comma after expression", token)
            if kind == "left-curly":
                key = self.parse_primary()
                if not self.skip("colon"):
                    self.fail("expected colon after dict key", token)
                pairs.append((key, self.parse_expression()))
            else:
                items.append(self.parse_expression())
        self.next_token()
        line = token.line + 1
        if kind == "left-curly":
            return n.DictLiteral(line, pairs)
        return n.Group(line, items) if kind == "left-paren" else n.ArrayLiteral(line, items)

    def parse_signature(
        self, tolerant: bool = False
    ) -> tuple[list[n.Node], list[tuple[n.Node, n.Node]]]:
        """`(a, b, key=value)`: positional and keyword arguments, in any order."""
        if self.peek_type() != "left-paren":
            if tolerant:
                return [], []
            self.fail("expected arguments")
        self.next_token()
        args: list[n.Node] = []
        kwargs: list[tuple[n.Node, n.Node]] = []
        while self.peek_type() != "right-paren":
            if (args or kwargs) and not self.skip("comma"):
                self.fail("expected comma after expression")
            argument = self.parse_expression()
            if self.skip_value("operator", "="):
                kwargs.append((argument, self.parse_expression()))
            else:
                args.append(argument)
        self.next_token()
        return args, kwargs


_ARITHMETIC = ("+", "-", "*", "/", "//", "%", "**")
_LITERALS = ("string", "int", "float", "boolean", "none", "regex")


def _trims_before(token: Token) -> bool:
    """`{%-`, `{{-` and `{#-` take the white space before them away."""
    value: str = token.value
    if token.type == "block-start":
        return value.endswith("-")
    if token.type in ("variable-start", "comment"):
        return value[2:3] == "-"
    return False

"""A strict reader over one TOML table: typed getters that report problems as `FILE: KEY: message`.

Reading never raises for bad input: it records the problem, returns a neutral default, and at
`finish()` reports every key that no getter asked for as unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_KIND_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    list: "an array",
    dict: "a table",
    bool: "a boolean",
    float: "a float",
}


def describe(value: object) -> str:
    """Return a TOML-flavoured name for the type of a parsed value."""
    for kind, name in _KIND_NAMES.items():
        if type(value) is kind:
            return name
    return type(value).__name__


class TableReader:
    """Reads the keys of one table, collecting errors into a shared list."""

    def __init__(
        self, data: Mapping[str, object], *, file: str, where: str, errors: list[str]
    ) -> None:
        self._data = data
        self._file = file
        self._where = where
        self._errors = errors
        self._seen: set[str] = set()

    def path(self, key: str) -> str:
        """Return the dotted key path of `key` inside this table."""
        return f"{self._where}.{key}" if self._where else key

    def error(self, key: str, message: str) -> None:
        """Record a problem with `key` (a key of this table, or an indexed item of one)."""
        self._errors.append(f"{self._file}: {self.path(key)}: {message}")

    def has(self, key: str) -> bool:
        """Return True when the table holds `key`."""
        return key in self._data

    def _get(self, key: str, kind: type, required: bool) -> object | None:
        self._seen.add(key)
        if key not in self._data:
            if required:
                self.error(key, "required key is missing")
            return None
        value = self._data[key]
        if type(value) is not kind:
            self.error(key, f"expected {_KIND_NAMES[kind]}, got {describe(value)}")
            return None
        return value

    def text(self, key: str, *, required: bool = True, default: str = "") -> str:
        """Return a string value; a required one must not be blank."""
        value = self._get(key, str, required)
        if not isinstance(value, str):
            return default
        if not value.strip():
            self.error(key, "must not be empty")
        return value

    def choice(self, key: str, allowed: Sequence[str], *, default: str = "") -> str:
        """Return a required string that must be one of `allowed`."""
        value = self._get(key, str, default == "")
        if not isinstance(value, str):
            return default or allowed[0]
        if value not in allowed:
            self.error(key, f"must be one of {', '.join(allowed)}; got {value!r}")
            return allowed[0]
        return value

    def flag(self, key: str) -> bool | None:
        """Return an optional boolean value (None when absent)."""
        value = self._get(key, bool, False)
        return value if isinstance(value, bool) else None

    def integer(self, key: str, *, required: bool = True, default: int = 0) -> int:
        """Return an integer value."""
        value = self._get(key, int, required)
        return value if isinstance(value, int) else default

    def texts(self, key: str, *, required: bool = True, non_empty: bool = False) -> tuple[str, ...]:
        """Return an array of non-blank strings."""
        value = self._get(key, list, required)
        if not isinstance(value, list):
            return ()
        if non_empty and not value:
            self.error(key, "must not be empty")
        items: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.error(f"{key}[{index}]", f"expected a string, got {describe(item)}")
            elif not item.strip():
                self.error(f"{key}[{index}]", "must not be empty")
            else:
                items.append(item)
        return tuple(items)

    def integers(self, key: str) -> tuple[int, ...]:
        """Return an optional array of integers."""
        value = self._get(key, list, False)
        if not isinstance(value, list):
            return ()
        items: list[int] = []
        for index, item in enumerate(value):
            # TOML booleans are not integers here, though Python's bool is an int.
            if isinstance(item, int) and not isinstance(item, bool):
                items.append(item)
            else:
                self.error(f"{key}[{index}]", f"expected an integer, got {describe(item)}")
        return tuple(items)

    def strings(self, key: str) -> dict[str, str]:
        """Return an optional inline table whose values are all strings."""
        value = self._get(key, dict, False)
        if not isinstance(value, dict):
            return {}
        result: dict[str, str] = {}
        for name, item in value.items():
            if isinstance(item, str):
                result[name] = item
            else:
                self.error(f"{key}.{name}", f"expected a string, got {describe(item)}")
        return result

    def table(self, key: str, *, required: bool = True) -> TableReader | None:
        """Return a reader over a sub-table, or None when it is absent or not a table."""
        value = self._get(key, dict, required)
        if not isinstance(value, dict):
            return None
        return TableReader(value, file=self._file, where=self.path(key), errors=self._errors)

    def tables(self, key: str, *, required: bool = True) -> list[TableReader]:
        """Return readers over an array of tables."""
        value = self._get(key, list, required)
        if not isinstance(value, list):
            return []
        readers: list[TableReader] = []
        for index, item in enumerate(value):
            where = f"{key}[{index}]"
            if isinstance(item, dict):
                readers.append(
                    TableReader(item, file=self._file, where=self.path(where), errors=self._errors)
                )
            else:
                self.error(where, f"expected a table, got {describe(item)}")
        return readers

    def finish(self) -> None:
        """Report every key of the table that no getter asked for."""
        for key in sorted(set(self._data) - self._seen):
            self.error(key, "unknown key")

"""'Did you mean' for names that do not exist."""

import difflib


def closest_names(name, known, count=3):
    """Up to `count` names of `known` closest to `name` (case-insensitive)."""
    known = list(known)
    lowered = {str(k).lower(): k for k in known}
    found = difflib.get_close_matches(str(name).lower(), list(lowered), n=count, cutoff=0.6)
    return [lowered[k] for k in found]


def did_you_mean(name, known, count=3):
    """' (did you mean 'a' or 'b'?)' for the names of `known` closest to
    `name`, or '' when none is close."""
    found = closest_names(name, known, count)
    if not found:
        return ""
    return " (did you mean " + " or ".join(repr(k) for k in found) + "?)"


def unknown_name_error(kind, name, known, error=ValueError):
    """`error` saying `name` is not a known `kind`, with the closest names
    and the full list, as one line."""
    return error(f"Unknown {kind} {name!r}{did_you_mean(name, known)}; known: "
                 f"{', '.join(sorted(str(k) for k in known))}.")

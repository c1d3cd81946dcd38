"""The argument parser of the mmlearn CLI: suggestions for misspelled keys, short usage.

It also makes a later value of a list setting, such as ``model.tasks``, replace the
earlier list instead of merging with it item by item.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, NoReturn

from lightning.pytorch.cli import LightningArgumentParser

# The messages in which jsonargparse reports an unknown key from a config file and
# argparse an unknown flag, each with the prefix that the user wrote before the key.
UNKNOWN_OPTION = (
    (re.compile(r"does not accept option '([^']+)'"), ""),
    (re.compile(r"Option '([^']+)' is not accepted"), ""),
    (re.compile(r"unrecognized arguments: .*?--([^\s=]+)"), "--"),
)


def closest_option(message: str, options: list[str]) -> str | None:
    """Return the known option nearest to the unknown one that ``message`` names, if any.

    A key is compared with the keys of its own section (``max_epoch`` with the other
    ``trainer`` keys), then looked for by its exact name in the other sections. A key
    whose section does not exist is compared with every key, then its section with
    every section.
    """
    for pattern, prefix in UNKNOWN_OPTION:
        found = pattern.search(message)
        if found is None:
            continue
        section, dot, name = found.group(1).rpartition(".")
        siblings = [
            option[len(section + dot) :]
            for option in options
            if option.rpartition(".")[0] == section
        ]
        matches = difflib.get_close_matches(name, siblings, n=1)
        if matches:
            return prefix + section + dot + matches[0]
        # The right name in the wrong section, such as --max_epochs or --optimizer.
        elsewhere = [option for option in options if option.rpartition(".")[2] == name]
        if len(elsewhere) == 1:
            return prefix + elsewhere[0]
        if not siblings:
            matches = difflib.get_close_matches(found.group(1), options, n=1, cutoff=0.8)
            if matches:
                return prefix + matches[0]
            # A misspelled section, such as --model.fusoin.kind for --model.fusion.kind.
            sections = difflib.get_close_matches(section, options, n=1, cutoff=0.8)
            return prefix + sections[0] + dot + name if sections else None
    return None


class SuggestingArgumentParser(LightningArgumentParser):
    """LightningArgumentParser that names the nearest known option when one is misspelled."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        # A bad key in a config file fails on the top parser, and ex carries the
        # subcommand's parser, whose options are the ones to compare against.
        parser = getattr(ex, "subcommand_parser", None) or self
        options = [action.dest for action in parser._actions]
        # A nested parser that failed first has already named its own suggestion.
        nearest = None if "Did you mean" in message else closest_option(message, options)
        if nearest is not None:
            message = f"{message}. Did you mean '{nearest}'?"
        super().error(message, ex)

    def print_usage(self, file: Any = None) -> None:
        # argparse prints the usage before an error. Every option would take over a
        # hundred lines and hide the error, so one line names --help instead.
        prog = self.prog.replace(" [options]", "")
        self._print_message(f"usage: {prog} [-h] [-c CONFIG] [options]\n", file)


def replace_on_override(parser: LightningArgumentParser, dest: str) -> None:
    """Make a later config file or flag that sets the list ``dest`` replace it whole.

    jsonargparse merges two lists of the same length item by item, so an overlay whose
    tasks differ from the base config's would silently keep, for example, the base
    ``subcategory`` weight on its second task. Lists that users write out in full
    should not inherit from the list they replace.
    """
    # NOTE: _check_type_ is a jsonargparse internal (4.53), through which both config
    # files and flags reach the type check. Recheck this on a jsonargparse upgrade.
    action = next(action for action in parser._actions if action.dest == dest)
    check = action._check_type_

    def check_without_previous(
        value: Any, cfg: Any = None, append: bool = False, **kwargs: Any
    ) -> Any:
        # A whole list arrives as a list (config file) or a string (flag). An item
        # added with --model.tasks+ still extends the list.
        whole = isinstance(value, (list, str)) and not append
        if whole and cfg is not None and dest in cfg:
            cfg = cfg.clone()
            cfg.pop(dest)
        return check(value, cfg=cfg, append=append, **kwargs)

    action._check_type_ = check_without_previous

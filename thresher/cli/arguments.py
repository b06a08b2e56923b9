"""az's argument conventions, applied to a command's arguments once the command is known.

Azure scripts rely on what az (argparse underneath) accepts, so thresher accepts it for every command:

- any unambiguous prefix of a long option: ``--endpoint`` for ``--endpoint-name``, ``--f`` for
  ``--file``, ``--deployment`` for ``--deployment-name``. An exact name always wins (``--input`` is
  ``--input``, not ``--input-type``); a prefix of several is an error naming them; short options
  (``-n``, ``-f``) are left as they are;
- the options that choose an Azure subscription or workspace, or how az waits (``AZURE_ONLY_*``):
  accepted, prefixes too, and dropped with their values (the workspace is ``THRESHER_HOME``);
- several values after one ``--set``: ``--set a=1 b=2`` is ``--set a=1 --set b=2``.

A prefix is matched against the command's own options first, and against the Azure-only ones only
when none of its own starts with it: ``--n`` is ``--name``, though az also knows ``--no-wait``.

``AzCommands`` is the class of every command group (``groups.group_app``): it rewrites the arguments
of the command a command line names before click parses them, so each command of each group, and
each command added later, follows these rules without saying so.

Example: ``thresher batch-endpoint invoke --n ep --deployment d1 --input data/ -g rg`` runs
``batch-endpoint invoke --name ep --deployment-name d1 --input data/`` (``--inp`` would be an error:
``--input`` or ``--input-type``?).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from typer.core import TyperGroup

# Click's classes are typer's to name (newer typers carry their own copy of click): the signatures
# below say Any where click's Context, Command and Parameter go, and parameters are read by attribute.

AZURE_ONLY_WITH_VALUE = ("--resource-group", "-g", "--workspace-name", "-w", "--subscription")
AZURE_ONLY_FLAGS = ("--no-wait", "--only-show-errors", "--web")
SET = "--set"  # takes several key=value after it, as az's --set does


class AzCommands(TyperGroup):
    """A command group whose commands take az's arguments (see the module docstring)."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        """The command a command line names, and its arguments as click is to parse them."""
        name, command, rest = super().resolve_command(ctx, args)
        if command is None or isinstance(command, TyperGroup):
            return name, command, rest  # a group of its own rewrites for its commands
        return name, command, az_arguments(command, ctx, name, rest)


def az_arguments(command: Any, ctx: Any, name: str | None, args: Sequence[str]) -> list[str]:
    """``args`` of ``command`` with az's conventions written out: prefixes expanded, Azure-only options
    dropped, several values after ``--set`` split. An ambiguous prefix is a usage error of the command;
    an option that is none of its (nor Azure's) is left for click to report, with its suggestions.
    """
    own = _values_taken(command, ctx)
    azure = {option: 1 for option in AZURE_ONLY_WITH_VALUE} | {option: 0 for option in AZURE_ONLY_FLAGS}
    result: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if token == "--":  # what follows is positional, whatever it looks like
            result.extend(args[index - 1 :])
            break
        if token.startswith("--") and len(token) > 2:
            option, equals, value = token.partition("=")
            option = _resolve(option, own, azure, command, ctx, name)
            taken = own.get(option, azure.get(option, 0))
            values = list(args[index : index + max(0, taken - 1 if equals else taken)])
            index += len(values)
            if option not in own and option in azure:
                continue
            result.append(f"{option}={value}" if equals else option)
            result.extend(values)
            if option == SET and not equals:
                while index < len(args) and not args[index].startswith("-") and "=" in args[index]:
                    result.extend([SET, args[index]])
                    index += 1
        elif token.startswith("-") and len(token) > 1:
            letters = _short_options(token, own, azure)
            values = list(args[index : index + letters.values])
            index += len(values)
            if not letters.azure_only:
                result.append(token)
                result.extend(values)
        else:
            result.append(token)
    return result


def _values_taken(command: Any, ctx: Any) -> dict[str, int]:
    """Each option name of the command (long and short, ``--no-x`` ones too) -> how many values follow it."""
    taken: dict[str, int] = {}
    for param in command.get_params(ctx):
        if getattr(param, "param_type_name", None) != "option":
            continue
        count = 0 if param.is_flag or param.count else max(param.nargs, 1)
        for option in (*param.opts, *param.secondary_opts):
            taken[option] = count
    return taken


def _resolve(option: str, own: dict[str, int], azure: dict[str, int], command: Any, ctx: Any, name: str | None) -> str:
    """The long option that ``option`` names: itself when exact, else the one it is a prefix of."""
    if option in own or option in azure or len(option) <= 2:
        return option
    for names in (own, azure):
        matches = sorted(candidate for candidate in names if candidate.startswith(option))
        if len(matches) == 1:
            return matches[0]
        if matches:
            # The command's own context (not yet made: its arguments are being parsed), so that the
            # error shows the command's usage and its help command.
            command.context_class(command, info_name=name, parent=ctx).fail(
                f"{option} is ambiguous: {', '.join(matches)}. Write enough of the option's name to tell them apart."
            )
    return option


class _Letters(NamedTuple):
    """What a single-dash token is: how many of the following arguments are its values, and whether
    it is an Azure-only option (``-g rg``, ``-w ws``) to drop with them."""

    values: int
    azure_only: bool


def _short_options(token: str, own: dict[str, int], azure: dict[str, int]) -> _Letters:
    """``-n x``, ``-nx`` (value attached), ``-ab`` (flags grouped, the last may take the next argument)."""
    if token[:2] not in own:
        taken = azure.get(token[:2])
        if taken is None:
            return _Letters(0, azure_only=False)  # a negative number, ``-``, or an unknown option for click
        return _Letters(taken if len(token) == 2 else 0, azure_only=True)
    for position in range(1, len(token)):
        taken = own.get("-" + token[position], 0)
        if taken:
            return _Letters(taken if position == len(token) - 1 else 0, azure_only=False)
    return _Letters(0, azure_only=False)

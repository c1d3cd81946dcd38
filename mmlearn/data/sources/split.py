"""Grouped, stratified train/val/test splits that keep near-duplicates together."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence


def group_by_shared_keys(keys: Sequence[Sequence[Hashable]]) -> list[int]:
    """Return a group index per sample: samples that share any key, directly or through
    other samples, get the same group (connected components, by union-find)."""
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[Hashable, int] = {}
    for index, sample_keys in enumerate(keys):
        for key in sample_keys:
            if key in owner:
                parent[find(index)] = find(owner[key])
            else:
                owner[key] = index
    roots: dict[int, int] = {}
    return [roots.setdefault(find(i), len(roots)) for i in range(len(keys))]


def grouped_stratified_split(
    groups: Sequence[int],
    strata: Sequence[str],
    fractions: Mapping[str, float],
    seed: int,
) -> list[str]:
    """Assign a split name to every sample so that no group straddles two splits.

    Each group takes the most common stratum of its members. Within each stratum the
    groups are shuffled with ``seed`` and each goes to the split that is furthest below
    its target share, so every stratum is split close to ``fractions`` by sample count.
    """
    if len(groups) != len(strata):
        raise ValueError(f"groups ({len(groups)}) and strata ({len(strata)}) differ in length")
    total = sum(fractions.values())
    if total <= 0 or any(value < 0 for value in fractions.values()):
        raise ValueError(f"invalid split fractions {dict(fractions)}; use non-negative shares")
    members: dict[int, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    groups_of_stratum: dict[str, list[int]] = defaultdict(list)
    for group, indices in members.items():
        stratum = Counter(strata[i] for i in indices).most_common(1)[0][0]
        groups_of_stratum[stratum].append(group)

    rng = random.Random(seed)
    assignment = [""] * len(groups)
    names = list(fractions)
    for stratum in sorted(groups_of_stratum):
        stratum_groups = sorted(groups_of_stratum[stratum])
        rng.shuffle(stratum_groups)
        size = sum(len(members[g]) for g in stratum_groups)
        counts = dict.fromkeys(names, 0)
        for group in stratum_groups:
            deficits = {n: fractions[n] / total * size - counts[n] for n in names}
            chosen = max(names, key=lambda n: deficits[n])
            counts[chosen] += len(members[group])
            for index in members[group]:
                assignment[index] = chosen
    return assignment

"""Record corrections with maker-checker approval, duplicate people (matching, merging,
undoing a merge), moving a person to another account, and citizens' grievances."""

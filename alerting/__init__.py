"""WIP-limit and aging alerts: rules, episodes, notices and their delivery."""

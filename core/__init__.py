"""The ground floor: configuration types, the clock, paths, text folding, stored-time format, exit statuses
and the Mention item. It imports nothing of Groundswell's own, so every other floor can stand on it."""

"""How the tests read ``training_draws``' probabilities, in one place."""


def draw_share(items, probs):
    """``share(cond)``: the probability that one draw of ``training_draws`` is an item for which ``cond`` holds."""
    return lambda cond: float(sum(p for item, p in zip(items, probs) if cond(item)))

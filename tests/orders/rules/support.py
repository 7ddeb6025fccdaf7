"""Building rules for the tests: rule("name", [(field, op, value)], [(kind, value)])."""

from orders.models import Rule, RuleAction, RuleCondition


def rule(
    name,
    conditions=(),
    actions=(),
    *,
    trigger=Rule.Trigger.INTAKE,
    match=Rule.Match.ALL,
    position=100,
    stop_here=False,
    active=True,
):
    made = Rule.objects.create(
        name=name,
        trigger=trigger,
        match=match,
        position=position,
        stop_here=stop_here,
        active=active,
    )
    for field, operator, value in conditions:
        RuleCondition.objects.create(
            rule=made, field=field, operator=operator, value=value
        )
    for action in actions:
        kind, value, *rest = action
        note = rest[0] if rest and isinstance(rest[0], str) else ""
        location = rest[0] if rest and not isinstance(rest[0], str) else None
        RuleAction.objects.create(
            rule=made, kind=kind, value=value, note=note, location=location
        )
    return made

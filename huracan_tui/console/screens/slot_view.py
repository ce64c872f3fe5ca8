"""Views about one slot (Drift, Importance, A/B) open on the slot named, else the slot in view:
the detail view's, the Models view's selected row, else the first slot."""

from __future__ import annotations


def slot_in_view(app) -> str | None:
    for screen in reversed(app.screen_stack):
        slot = getattr(screen, "slot_key", None)
        if slot:
            return slot
        selected = getattr(screen, "selected_slot", None)
        if callable(selected) and (slot := selected()):
            return slot
    slots = sorted(slot.slot for slot in (app.snapshot.slots if app.snapshot else []))
    return slots[0] if slots else None


def push_slot_view(app, screen_type, slot: str = "") -> None:
    slot = slot or slot_in_view(app)
    if slot is None:
        app.notify("No slots in the brain yet: train a model first (d on the Models view).",
                   severity="warning")
        return
    if isinstance(app.screen, screen_type) and app.screen.slot_key == slot:
        return
    app.push_screen(screen_type(slot))

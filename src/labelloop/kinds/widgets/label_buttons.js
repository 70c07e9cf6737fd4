// The label buttons widget (classification kinds): a number key or a click picks a label; with
// options.several it toggles, and the answer is the sorted set. The work page (app.js) calls it
// through the widget interface: show, clear, state, value, key, text.
(() => {
  "use strict";
  const widgets = (window.labelloopWidgets = window.labelloopWidgets || {});

  widgets.label_buttons = (cfg, root, options) => {
    const several = Boolean(options && options.several);
    const buttons = Array.from(root.querySelectorAll(".label"));
    let selected = new Set();

    const mark = () => {
      for (const b of buttons) b.classList.toggle("selected", selected.has(b.dataset.label));
    };
    const pick = (index) => {
      const label = cfg.labels[index];
      if (label === undefined) return;
      if (!several) selected = new Set([label]);
      else if (selected.has(label)) selected.delete(label);
      else selected.add(label);
      mark();
    };
    const widget = {
      // Pre-fill with the model's suggestion, or with a kept state (an undone answer).
      show(suggestion, kept) {
        if (kept) selected = new Set(kept);
        else if (suggestion == null) selected = new Set();
        else selected = new Set(Array.isArray(suggestion) ? suggestion : [suggestion]);
        mark();
      },
      clear() {
        selected = new Set();
        mark();
      },
      state: () => new Set(selected),
      // { label } to send, or { problem } to tell the person.
      value() {
        const picked = cfg.labels.filter((l) => selected.has(l));
        if (several) return { label: picked };
        if (picked.length) return { label: picked[0] };
        return { problem: "Pick a label first (its number key), then Enter." };
      },
      // Whether the widget used the key.
      key(key, enabled) {
        const index = cfg.keys.indexOf(key);
        if (index < 0) return false;
        if (enabled) pick(index);
        return true;
      },
      text: (label) => (Array.isArray(label) ? label.join(", ") || "(none)" : String(label)),
    };
    for (const b of buttons) {
      b.addEventListener("click", () => {
        if (widget.enabled()) pick(Number(b.dataset.index));
        b.blur();
      });
    }
    widget.enabled = () => true; // the page replaces this: no picking without an item
    return widget;
  };
})();

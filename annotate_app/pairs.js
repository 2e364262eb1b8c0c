// The pairwise task (ACUTE-Eval, Chatbot Arena): the context, two replies or two whole
// conversations side by side (stacked on a phone), A / B / tie and an optional short reason.
// The Labeler (labeler.js) draws it through these functions when an item's kind is "pairs".
// Every text from the server is set with textContent.

// Keys by their place on the keyboard (event.code), so they work on a Russian layout too.
const PAIR_KEYS = {
  KeyA: "left", Digit1: "left", Numpad1: "left",
  KeyB: "right", Digit2: "right", Numpad2: "right",
  KeyT: "tie", Digit3: "tie", Numpad3: "tie",
};

function pairSide(title, name) {
  const box = el("section", { className: `side side-${name}`, "aria-label": title });
  box.appendChild(el("h3", { className: "side-title" }, title));
  const body = el("div", { className: "side-text" });
  box.appendChild(body);
  return { box, body };
}

function buildPair(ui, task) {
  const t = ui.data.t;
  const conv = ui.data.item.conversation;
  task.left = pairSide(conv ? t.pair_left_chat : t.pair_left, "left");
  task.right = pairSide(conv ? t.pair_right_chat : t.pair_right, "right");
  const sides = el("div", { className: "sides" });
  sides.append(task.left.box, task.right.box);
  const group = el("div", { className: "question pair", role: "group", "aria-labelledby": "q-pair" });
  task.question = el("h3", { id: "q-pair" });
  group.appendChild(task.question);
  const row = el("div", { className: "choices" });
  task.choices = {};
  for (const [value, text, key] of [["left", t.pair_a, "A"], ["tie", t.pair_tie, "T"], ["right", t.pair_b, "B"]]) {
    task.choices[value] = button(text, key, {
      "aria-pressed": "false",
      "aria-keyshortcuts": key,
      "data-answer": `pair-${value}`,
      className: "choice",
    }, () => ui.pickSide(value));
    row.appendChild(task.choices[value]);
  }
  group.appendChild(row);
  task.reason = el("input", { type: "text", maxlength: "500", className: "reason", "aria-label": t.pair_reason, placeholder: t.pair_reason });
  task.reason.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); ui.submit(); }
  });
  group.appendChild(task.reason);
  return { parts: [sides, group], keys: t.pair_keys };
}

function fillSide(side, texts, conversation) {
  side.body.replaceChildren(...texts.map((text, i) => {
    const who = conversation ? (i % 2 === 0 ? "turn person" : "turn bot") : "text";
    return el("p", { className: who }, text);
  }));
}

function fillPair(ui, task) {
  const item = ui.data.item;
  task.question.textContent = item.question;
  fillSide(task.left, item.left, item.conversation);
  fillSide(task.right, item.right, item.conversation);
  task.left.box.dataset.pairId = String(item.id);
  task.reason.value = "";
  task.reason.blur(); // the next item's keys choose again, not type into the reason
}

function syncPair(ui, task) {
  for (const value of ["left", "tie", "right"]) {
    const chosen = ui.answers.side === value;
    task.choices[value].setAttribute("aria-pressed", String(chosen));
    task.choices[value].classList.toggle("chosen", chosen);
  }
}

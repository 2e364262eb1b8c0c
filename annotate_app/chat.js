// The chat page, drawn in the browser: one message to the server per human turn
// (setTriggerValue), a typing sign while the bot works, finish from the minimum number of turns.
// Every text from the server is set with textContent: bot output never becomes markup.

function button(label, attrs, onClick) {
  const b = el("button", { type: "button", ...attrs }, label);
  b.addEventListener("click", onClick);
  return b;
}

class Chatter {
  constructor(parent) {
    this.root = el("div", { className: "chatter" });
    parent.appendChild(this.root);
    Object.assign(this, { data: null, busy: false, trigger: null, built: null, draft: "" });
  }

  send(name, value) {
    if (this.busy) return;
    this.busy = true;
    this.root.setAttribute("aria-busy", "true");
    this.trigger(name, value);
  }

  build() {
    const t = this.data.t;
    const ui = {};
    ui.head = el("div", { className: "head" });
    ui.count = el("span", { className: "count" });
    ui.head.append(ui.count, button(t.language, { className: "link", "data-action": "lang", lang: t.other_lang }, () => this.send("nav", "lang")));
    ui.intro = el("p", { className: "intro" }, t.chat_intro);
    ui.log = el("section", { className: "log", "aria-label": t.chat_log, "aria-live": "polite" });
    ui.typing = el("p", { className: "typing", role: "status" });
    ui.form = el("form", { className: "compose" });
    ui.input = el("textarea", { rows: "2", "aria-label": t.your_message, placeholder: t.your_message, maxlength: String(this.data.max_chars) });
    ui.input.addEventListener("input", () => { this.draft = ui.input.value; this.sync(); });
    ui.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.submit(); }
    });
    ui.send = el("button", { type: "submit", className: "submit", "data-action": "send" }, t.send);
    ui.form.append(ui.input, ui.send);
    ui.form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(); });
    ui.finish = button(t.finish, { className: "secondary", "data-action": "finish" }, () => this.send("finish", true));
    ui.hint = el("p", { className: "hint" });
    this.root.replaceChildren(ui.head, ui.intro, ui.log, ui.typing, ui.form, ui.finish, ui.hint);
    this.ui = ui;
  }

  submit() {
    const text = this.ui.input.value;
    if (this.busy || this.data.waiting || !text.trim() || this.data.must_finish) return;
    this.send("send", text); // the draft stays until the turn is stored (a refusal keeps it)
  }

  fillLog() {
    const t = this.data.t;
    const rows = this.data.turns.map((turn) => {
      const human = turn.speaker === "human";
      const row = el("div", { className: human ? "turn human" : "turn bot", "data-position": String(turn.position) });
      row.append(el("span", { className: "who" }, human ? t.you : t.bot), el("p", { className: "text" }, turn.text));
      if (!human && turn.text !== null) {
        const menu = el("div", { className: "report" });
        if (turn.flag) menu.appendChild(el("span", { className: "flagged" }, t[`reported_${turn.flag}`]));
        else {
          for (const flag of ["offensive", "broken"]) {
            menu.appendChild(button(t[`report_${flag}`], { className: "link small", "data-report": flag }, () => this.send("report", { position: turn.position, flag })));
          }
        }
        row.appendChild(menu);
      }
      return row;
    }).filter((row, i) => this.data.turns[i].text !== null);
    this.ui.log.replaceChildren(...rows);
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
  }

  sync() {
    const { t, waiting, late, can_finish, must_finish } = this.data;
    const ui = this.ui;
    ui.typing.textContent = late ? t.bot_late : waiting ? t.typing : "";
    ui.typing.classList.toggle("late", Boolean(late));
    ui.input.disabled = Boolean(must_finish);
    ui.send.disabled = this.busy || Boolean(waiting) || !ui.input.value.trim() || Boolean(must_finish);
    ui.finish.hidden = !can_finish;
    ui.finish.classList.toggle("submit", Boolean(must_finish));
    ui.finish.classList.toggle("secondary", !must_finish);
    ui.hint.textContent = must_finish ? t.must_finish : can_finish ? t.may_finish : t.keep_going.replace("{n}", this.data.min_turns);
    ui.count.textContent = t.turns.replace("{n}", this.data.turns.length).replace("{max}", this.data.max_turns);
  }

  endView() {
    const { t, code, finish } = this.data;
    const body = el("div", { className: "message" });
    body.appendChild(el("h2", {}, this.data.view === "full" ? t.full_title : t.thanks_title));
    body.appendChild(el("p", {}, this.data.view === "full" ? t.full : t.thanks));
    if (code) {
      body.appendChild(el("p", {}, t.code_intro));
      body.appendChild(el("p", { className: "code", "data-code": code }, code));
    }
    const back = wayBack(finish, t.return_link);
    if (back) body.appendChild(back);
    if (!code) body.appendChild(button(t.again, { className: "secondary", "data-action": "again" }, () => this.send("nav", "again")));
    this.root.replaceChildren(body);
    this.built = null;
  }

  update(data) {
    const text = JSON.stringify(data);
    if (text === this.last) { this.busy = false; this.root.setAttribute("aria-busy", "false"); return; }
    this.last = text; // a rerun that changed nothing redraws nothing
    const old = this.data;
    if (old && old.chat_id === data.chat_id && data.turns.length > old.turns.length && data.turns.length % 2 === 0) this.draft = "";
    this.data = data;
    this.busy = false;
    this.root.setAttribute("lang", data.lang);
    this.root.dataset.view = data.view;
    if (data.view !== "chat") this.endView();
    else {
      const layout = `${data.chat_id}|${data.lang}`;
      if (layout !== this.built) { this.build(); this.built = layout; }
      if (this.ui.input.value !== this.draft) this.ui.input.value = this.draft;
      this.fillLog();
      this.sync();
      this.root.dataset.waiting = data.waiting ? "true" : "false";
    }
    this.root.setAttribute("aria-busy", "false");
  }
}

export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  let ui = parentElement.__evaltoolChat;
  if (!ui) {
    ui = new Chatter(parentElement);
    parentElement.__evaltoolChat = ui;
  }
  ui.trigger = setTriggerValue;
  ui.update(data);
}

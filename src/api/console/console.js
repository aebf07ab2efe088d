// The operator console: reads the API, shows runs and the approvals they wait for, and sends decisions.
// Every value from the server is shown with textContent, never as HTML.
'use strict';

// The key lives in this tab's session storage only (gone when the tab closes), and only once the server took it.
// Earlier versions kept it in local storage: that copy is removed.
localStorage.removeItem('reassign.apiKey');
const state = {
  key: sessionStorage.getItem('reassign.apiKey') || '',
  role: 'viewer',
  selected: null,
  names: false,
  stream: null,
  approvals: [],
  shownApprovals: [],
  selectedApprovals: new Set(),
};

const $ = (id) => document.getElementById(id);

function notice(text, ok = false) {
  $('notice').textContent = text;
  $('notice').className = ok ? 'ok' : '';
}

async function api(path, options = {}) {
  const headers = { ...(options.body ? { 'content-type': 'application/json' } : {}) };
  if (state.key) headers.authorization = `Bearer ${state.key}`;
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text === undefined || text === null ? '–' : String(text);
  if (className) td.className = className;
  return td;
}

function button(label, className, testId, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.className = className;
  b.dataset.testid = testId;
  b.addEventListener('click', onClick);
  return b;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '–';
}

async function whoAmI() {
  try {
    const me = await api('/api/me');
    state.role = me.role;
    $('who').textContent = `${me.name} · ${me.role}${me.auth ? '' : ' (no authentication: loopback only)'}`;
    $('key-form').hidden = !me.auth;
    $('sign-out').hidden = !me.auth;
    document.body.className = me.role;
    return true;
  } catch (err) {
    $('who').textContent = 'not signed in';
    $('key-form').hidden = false;
    $('sign-out').hidden = true;
    document.body.className = 'signed-out';
    state.role = null;
    if (err.status !== 401) notice(err.message);
    else notice(state.key ? `${err.message}: enter another API key` : 'Enter an API key to see the runs.');
    return false;
  }
}

const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** A deadline as the scheduler reads it: local time with its time zone, and how long is left. */
function deadlineText(iso) {
  const at = new Date(iso);
  const local = at.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  });
  return `${local} (${TZ})`;
}

function countdown(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  if (ms <= 0) return 'passed';
  const m = Math.floor(ms / 60000);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  return d > 0
    ? `in ${d} d ${h % 24} h`
    : h > 0
      ? `in ${h} h ${m % 60} min`
      : `in ${m} min ${Math.floor(ms / 1000) % 60} s`;
}

const ON_TIMEOUT = {
  waitlist: 'then the patient goes to the waitlist',
  assign: 'then the move is made without a decision',
};

function factorsText(factors) {
  return Object.entries(factors || {})
    .map(([name, f]) => `${name} ${f.points}/${f.max}`)
    .join(' · ');
}

function matchesFilter(a, filter) {
  if (!filter) return true;
  const hay = [
    a.workflow_id,
    a.appointment_id,
    a.provider_id,
    a.details && a.details.band,
    a.details && a.details.specialty,
  ]
    .join(' ')
    .toLowerCase();
  return filter
    .toLowerCase()
    .split(/\s+/)
    .every((w) => hay.includes(w));
}

async function refreshApprovals() {
  const { approvals } = await api(
    `/api/approvals${state.names && state.role === 'operator' ? '?include=patients' : ''}`,
  );
  state.approvals = approvals;
  const filter = $('approvals-filter').value.trim();
  const body = $('approvals');
  body.replaceChildren();
  const shown = approvals.filter((a) => matchesFilter(a, filter));
  for (const a of shown) {
    const key = `${a.workflow_id}/${a.appointment_id}`;
    const d = a.details;
    const tr = document.createElement('tr');
    tr.dataset.testid = `approval-${a.appointment_id}`;
    const pick = document.createElement('td');
    pick.className = 'operator-only';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.dataset.testid = `select-${a.appointment_id}`;
    box.checked = state.selectedApprovals.has(key);
    box.addEventListener('change', () => {
      if (box.checked) state.selectedApprovals.add(key);
      else state.selectedApprovals.delete(key);
      updateBulk();
    });
    pick.append(box);
    const run = document.createElement('td');
    const link = document.createElement('a');
    link.href = '#';
    link.textContent = a.workflow_id;
    link.addEventListener('click', (e) => {
      e.preventDefault();
      select(a.workflow_id);
    });
    run.append(link);
    const appointment = d ? `${a.appointment_id} · ${d.date} ${d.time} · ${d.specialty}` : a.appointment_id;
    const patient = d && d.patient ? d.patient : state.names ? '–' : 'hidden';
    const move = `${a.provider_id} · ${a.score}${d ? ` (${d.band})` : ''}`;
    const alternatives = d
      ? d.alternatives.map((x) => `${x.provider_id} ${x.score} (${x.band})`).join(', ') || 'none free'
      : null;
    const deadline = document.createElement('td');
    deadline.dataset.testid = `deadline-${a.appointment_id}`;
    const when = document.createElement('div');
    when.textContent = deadlineText(a.deadline);
    const left = document.createElement('div');
    left.className = 'countdown';
    left.dataset.deadline = a.deadline;
    left.textContent = countdown(a.deadline);
    const then = document.createElement('div');
    then.className = 'hint';
    then.textContent = d ? ON_TIMEOUT[d.on_timeout] : '';
    deadline.append(when, left, then);
    tr.append(
      pick,
      run,
      cell(appointment),
      cell(patient),
      cell(move),
      cell(
        [d ? factorsText(d.factors) : '', a.rationale ? `model: “${a.rationale}”` : ''].filter(Boolean).join(' — ') ||
          null,
        'factors',
      ),
      cell(alternatives),
      deadline,
    );
    const actions = document.createElement('td');
    if (state.role === 'operator')
      actions.append(
        button('Approve', 'approve', `approve-${a.appointment_id}`, () => decide(a, 'approve')),
        button('Reject', 'reject', `reject-${a.appointment_id}`, () => decide(a, 'reject')),
      );
    tr.append(actions);
    body.append(tr);
  }
  // A selection of approvals no longer waiting is dropped.
  const waiting = new Set(approvals.map((a) => `${a.workflow_id}/${a.appointment_id}`));
  for (const key of [...state.selectedApprovals]) if (!waiting.has(key)) state.selectedApprovals.delete(key);
  state.shownApprovals = shown;
  updateBulk();
  $('approvals-count').textContent = approvals.length ? `(${approvals.length})` : '';
  $('no-approvals').hidden = approvals.length > 0;
}

async function decide(a, decision) {
  try {
    const r = await api(
      `/api/reassignments/${encodeURIComponent(a.workflow_id)}/approvals/${encodeURIComponent(a.appointment_id)}`,
      {
        method: 'POST',
        body: JSON.stringify({ decision }),
      },
    );
    notice(`${r.appointment_id} → ${r.provider_id}: ${r.decision} by ${r.by}`, true);
    select(a.workflow_id);
  } catch (err) {
    notice(err.message);
  }
  await refreshApprovals().catch(() => undefined);
}

function updateBulk() {
  const n = state.selectedApprovals.size;
  $('approve-selected').disabled = n === 0;
  $('approve-selected').textContent = n ? `Approve selected (${n})` : 'Approve selected';
}

/** Each selected approval is its own decision (one Update each), sent one after the other. */
async function approveSelected() {
  const chosen = state.approvals.filter((a) => state.selectedApprovals.has(`${a.workflow_id}/${a.appointment_id}`));
  if (!chosen.length) return;
  if (!confirm(`Approve ${chosen.length} move(s)? Each is recorded as your decision.`)) return;
  const refused = [];
  let approved = 0;
  for (const a of chosen) {
    try {
      await api(
        `/api/reassignments/${encodeURIComponent(a.workflow_id)}/approvals/${encodeURIComponent(a.appointment_id)}`,
        { method: 'POST', body: JSON.stringify({ decision: 'approve' }) },
      );
      approved += 1;
    } catch (err) {
      refused.push(`${a.appointment_id}: ${err.message}`);
    }
    state.selectedApprovals.delete(`${a.workflow_id}/${a.appointment_id}`);
  }
  notice(
    `approved ${approved} of ${chosen.length}${refused.length ? `; refused: ${refused.join('; ')}` : ''}`,
    !refused.length,
  );
  await refreshApprovals().catch(() => undefined);
}

async function refreshAttention() {
  const { appointments } = await api('/api/needs-attention');
  const groups = new Map();
  for (const a of appointments) {
    const key = `${a.provider_id} ${a.date}`;
    if (!groups.has(key)) groups.set(key, { provider_id: a.provider_id, date: a.date, items: [] });
    groups.get(key).items.push(a);
  }
  const body = $('attention');
  body.replaceChildren();
  for (const g of groups.values()) {
    const tr = document.createElement('tr');
    tr.dataset.testid = `attention-${g.provider_id}-${g.date}`;
    tr.append(
      cell(g.provider_id),
      cell(g.date),
      cell(g.items.map((i) => `${i.appointment_id} ${i.time}`).join(', ')),
      cell([...new Set(g.items.map((i) => `${i.run_id} (${i.run_status})`))].join(', ')),
    );
    const actions = document.createElement('td');
    if (state.role === 'operator')
      actions.append(
        button('New run', 'start-again', `rerun-${g.provider_id}-${g.date}`, async () => {
          try {
            const r = await api('/api/trigger-workflow-dynamic', {
              method: 'POST',
              body: JSON.stringify({ provider_id: g.provider_id, date: g.date, reason: 'left undecided' }),
            });
            notice(`started ${r.workflow_id} for ${g.items.length} appointment(s)`, true);
            await refreshRuns();
            select(r.workflow_id);
          } catch (err) {
            notice(err.message);
          }
        }),
      );
    tr.append(actions);
    body.append(tr);
  }
  $('attention-count').textContent = appointments.length ? `(${appointments.length})` : '';
  $('no-attention').hidden = appointments.length > 0;
}

/** The escalations still open or acknowledged; an operator acknowledges or resolves them (who and when are recorded). */
async function refreshEscalations() {
  const { escalations } = await api('/api/escalations?limit=100');
  const shown = escalations.filter((e) => e.status !== 'resolved');
  const body = $('escalations');
  body.replaceChildren();
  for (const e of shown) {
    const tr = document.createElement('tr');
    tr.dataset.testid = `escalation-${e.id}`;
    const status =
      e.status === 'acknowledged' ? `acknowledged by ${e.acknowledged_by} (${when(e.acknowledged_at)})` : e.status;
    tr.append(cell(e.id), cell(e.kind.replace(/_/g, ' ')), cell(e.reason), cell(status), cell(when(e.created_at)));
    const actions = document.createElement('td');
    if (state.role === 'operator') {
      const act = (action, label) =>
        button(label, action, `${action}-${e.id}`, async () => {
          try {
            const done = await api(`/api/escalations/${e.id}/${action}`, { method: 'POST', body: '{}' });
            notice(`escalation #${done.id} ${done.status}`, true);
            await refreshEscalations();
          } catch (err) {
            notice(err.message);
          }
        });
      if (e.status === 'open') actions.append(act('acknowledge', 'Acknowledge'));
      actions.append(act('resolve', 'Resolve'));
    }
    tr.append(actions);
    body.append(tr);
  }
  $('escalations-count').textContent = shown.length ? `(${shown.length})` : '';
  $('no-escalations').hidden = shown.length > 0;
}

/** The label routes: which scoring strategy runs use now, who pinned it, and the last move with its reason. */
async function refreshRoutes() {
  const { routes } = await api('/api/label-routes');
  const body = $('routes');
  body.replaceChildren();
  for (const r of routes) {
    const tr = document.createElement('tr');
    tr.dataset.testid = `route-${r.prompt}-${r.label}`;
    const m = r.last_move;
    const move = m
      ? `${when(m.created_at)}: ${m.from_label ?? '–'} → ${m.to_label} by ${m.moved_by} (${m.reason})`
      : undefined;
    const pinned = r.pinned_by ? `pinned by ${r.pinned_by} (${when(r.pinned_at)})` : 'no';
    tr.append(cell(r.prompt), cell(r.label), cell(r.follows), cell(pinned), cell(move));
    body.append(tr);
  }
  $('no-routes').hidden = routes.length > 0;
}

async function refreshRuns() {
  const { runs } = await api('/api/reassignments?limit=25');
  const body = $('runs');
  body.replaceChildren();
  for (const r of runs) {
    const tr = document.createElement('tr');
    tr.dataset.testid = `run-${r.workflow_id}`;
    const id = document.createElement('td');
    const link = document.createElement('a');
    link.href = '#';
    link.textContent = r.workflow_id;
    link.addEventListener('click', (e) => {
      e.preventDefault();
      select(r.workflow_id);
    });
    id.append(link);
    const status = r.status || r.execution_status.toLowerCase();
    const ui = document.createElement('td');
    const a = document.createElement('a');
    a.href = r.links.temporal_ui;
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = 'Temporal UI';
    ui.append(a);
    tr.append(id, cell(status, `status-${status}`), cell(r.provider_id), cell(r.date), cell(r.mode));
    tr.append(
      cell(r.prompt_version ? `v${r.prompt_version}` : null),
      cell(when(r.started_at)),
      cell(r.started_by || 'elsewhere (CLI)'),
      ui,
    );
    body.append(tr);
  }
  $('no-runs').hidden = runs.length > 0;
}

function showDetail(d) {
  $('run-section').hidden = false;
  $('run-id').textContent = d.workflow_id;
  $('run-ui').href = d.links.temporal_ui;
  const status = d.result ? d.result.status : d.progress ? d.progress.status : d.execution_status.toLowerCase();
  $('run-status').textContent = status;
  $('run-status').className = `status-${status}`;
  $('run-message').textContent = d.result ? d.result.message : d.failure || '';
  $('cancel-run').hidden = d.execution_status !== 'RUNNING';
  $('run-started-by').textContent = d.started_by ? `started by ${d.started_by}` : '';
  const p = d.progress;
  $('run-progress').textContent = p
    ? `${p.decided}/${p.total_affected} decided · batches ${p.batches.done}/${p.batches.total} · LLM calls ${p.llm_calls}` +
      (p.pending_approvals.length
        ? ` · awaiting approval: ${p.pending_approvals.map((a) => a.appointment_id).join(', ')}`
        : '')
    : '';
  const names = d.patients || {};
  const body = $('decisions');
  body.replaceChildren();
  const rows = d.result
    ? [
        ...d.result.assignments.map((a) => [
          a.appointment_id,
          `→ ${a.new_provider_id}`,
          a.score,
          a.band,
          a.decided_by,
          a.approved_by,
        ]),
        ...d.result.waitlisted.map((w) => [w.appointment_id, `waitlist: ${w.reason}`, null, null, w.decided_by, null]),
        ...d.result.undecided.map((u) => [u.appointment_id, `undecided: ${u.reason}`, null, null, null, null]),
      ].sort((x, y) => x[0].localeCompare(y[0]))
    : [];
  for (const [id, decision, score, band, by, approvedBy] of rows) {
    const tr = document.createElement('tr');
    tr.dataset.testid = `decision-${id}`;
    tr.append(
      cell(id),
      cell(names[id] || (state.names ? '' : 'hidden')),
      cell(decision),
      cell(score),
      cell(band),
      cell(by),
      cell(approvedBy),
    );
    body.append(tr);
  }
}

async function select(workflowId) {
  state.selected = workflowId;
  if (state.stream) state.stream.abort();
  try {
    showDetail(
      await api(`/api/reassignments/${encodeURIComponent(workflowId)}${state.names ? '?include=patients' : ''}`),
    );
  } catch (err) {
    notice(err.message);
    return;
  }
  follow(workflowId);
}

/** Server-sent events through fetch (EventSource cannot send the Authorization header). */
async function follow(workflowId) {
  const controller = new AbortController();
  state.stream = controller;
  try {
    const headers = { accept: 'text/event-stream' };
    if (state.key) headers.authorization = `Bearer ${state.key}`;
    const response = await fetch(`/api/reassignments/${encodeURIComponent(workflowId)}/events`, {
      headers,
      signal: controller.signal,
    });
    if (!response.ok || !response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(chunk)?.[1];
        if (event && state.selected === workflowId) {
          const detail = await api(
            `/api/reassignments/${encodeURIComponent(workflowId)}${state.names ? '?include=patients' : ''}`,
          );
          showDetail(detail);
        }
      }
    }
  } catch {
    // aborted, or the connection dropped: the periodic refresh goes on
  }
}

async function start(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = {};
  for (const [k, v] of form.entries()) if (String(v).trim() !== '') body[k] = String(v).trim();
  try {
    const r = await api('/api/trigger-workflow-dynamic', { method: 'POST', body: JSON.stringify(body) });
    notice(`started ${r.workflow_id}`, true);
    await refreshRuns();
    select(r.workflow_id);
  } catch (err) {
    notice(err.message);
  }
}

/** What a prompt-driven run would do, with nothing written: a dry run of the same loop (the model is asked). */
async function preview() {
  const form = new FormData($('start-form'));
  const body = {};
  for (const k of ['provider_id', 'date', 'label']) {
    const v = String(form.get(k) || '').trim();
    if (v) body[k] = v;
  }
  try {
    const p = await api('/api/preview', { method: 'POST', body: JSON.stringify(body) });
    const counts = { assign: 0, ask_approval: 0, waitlist: 0, undecided: 0 };
    for (const a of p.appointments) counts[a.outcome] += 1;
    const llm = p.llm;
    $('preview-summary').textContent =
      `Preview for ${p.provider_id} on ${p.date} (prompt ${p.prompt.label} v${p.prompt.version}), nothing written: ` +
      `${p.appointments.length} appointment(s): ${counts.assign} moved at once, ${counts.ask_approval} waiting for ` +
      `approval, ${counts.waitlist} to the waitlist` +
      (counts.undecided ? `, ${counts.undecided} undecided` : '') +
      `. Model: ${llm.calls} call(s), ${llm.prompt_tokens + llm.completion_tokens} tokens` +
      (llm.fallback_used ? `; fallback used (${llm.fallback_reasons.join('; ')})` : '') +
      '.';
    const rows = $('preview-rows');
    rows.replaceChildren();
    for (const a of p.appointments) {
      const tr = document.createElement('tr');
      tr.dataset.testid = `preview-${a.appointment_id}`;
      const would = { assign: 'move', ask_approval: 'ask approval', waitlist: 'waitlist', undecided: 'undecided' }[
        a.outcome
      ];
      const by = a.decided_by === 'code_fallback' ? 'code (fallback)' : (a.decided_by ?? '');
      tr.append(
        cell(a.appointment_id),
        cell(a.time),
        cell(would),
        cell(a.provider_id),
        cell(a.score),
        cell(a.band),
        cell(by),
      );
      rows.append(tr);
    }
    $('preview').hidden = false;
  } catch (err) {
    notice(err.message);
  }
}

async function refresh() {
  try {
    await Promise.all([refreshApprovals(), refreshRuns(), refreshAttention(), refreshEscalations(), refreshRoutes()]);
  } catch (err) {
    notice(err.message);
  }
}

$('key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  state.key = $('key').value.trim();
  $('key').value = '';
  if (await whoAmI()) {
    sessionStorage.setItem('reassign.apiKey', state.key);
    notice('');
    refresh();
  } else {
    // A refused key is forgotten at once: never stored, never sent again.
    state.key = '';
    sessionStorage.removeItem('reassign.apiKey');
  }
});
$('sign-out').addEventListener('click', () => {
  state.key = '';
  sessionStorage.removeItem('reassign.apiKey');
  if (state.stream) state.stream.abort();
  state.selected = null;
  for (const id of ['approvals', 'runs', 'decisions', 'escalations', 'routes']) $(id).replaceChildren();
  $('run-section').hidden = true;
  whoAmI().then(() => notice('Signed out.', true));
});
$('start-form').addEventListener('submit', start);
$('approvals-filter').addEventListener('input', () => refreshApprovals().catch((err) => notice(err.message)));
$('select-shown').addEventListener('click', () => {
  for (const a of state.shownApprovals) state.selectedApprovals.add(`${a.workflow_id}/${a.appointment_id}`);
  refreshApprovals().catch((err) => notice(err.message));
});
$('approve-selected').addEventListener('click', approveSelected);
$('preview-run').addEventListener('click', preview);
setInterval(() => {
  for (const el of document.querySelectorAll('.countdown')) el.textContent = countdown(el.dataset.deadline);
}, 1000);
function toggleNames() {
  state.names = !state.names;
  for (const id of ['show-names', 'inbox-names'])
    $(id).textContent = state.names ? 'Hide patient names' : 'Show patient names';
  if (state.selected) select(state.selected);
  refreshApprovals().catch((err) => notice(err.message));
}
$('show-names').addEventListener('click', toggleNames);
$('inbox-names').addEventListener('click', toggleNames);
$('cancel-run').addEventListener('click', async () => {
  if (!state.selected) return;
  const question =
    `Cancel ${state.selected}? It stops after the step in flight: what is decided stays decided, ` +
    'and the appointments not yet decided stay booked with the absent provider (listed under Needs attention).';
  if (!confirm(question)) return;
  try {
    await api(`/api/reassignments/${encodeURIComponent(state.selected)}/cancel`, { method: 'POST', body: '{}' });
    notice(`cancellation requested for ${state.selected}`, true);
  } catch (err) {
    notice(err.message);
  }
});

(async () => {
  if (await whoAmI()) await refresh();
  setInterval(() => {
    if (state.role) refresh();
  }, 2000);
})();

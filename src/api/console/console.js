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

async function refreshApprovals() {
  const { approvals } = await api('/api/approvals');
  const body = $('approvals');
  body.replaceChildren();
  for (const a of approvals) {
    const tr = document.createElement('tr');
    tr.dataset.testid = `approval-${a.appointment_id}`;
    const run = document.createElement('td');
    const link = document.createElement('a');
    link.href = '#';
    link.textContent = a.workflow_id;
    link.addEventListener('click', (e) => {
      e.preventDefault();
      select(a.workflow_id);
    });
    run.append(link);
    tr.append(run, cell(a.appointment_id), cell(a.provider_id), cell(a.score), cell(when(a.deadline)));
    const actions = document.createElement('td');
    if (state.role === 'operator')
      actions.append(
        button('Approve', 'approve', `approve-${a.appointment_id}`, () => decide(a, 'approve')),
        button('Reject', 'reject', `reject-${a.appointment_id}`, () => decide(a, 'reject')),
      );
    tr.append(actions);
    body.append(tr);
  }
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
    tr.append(cell(r.prompt_version ? `v${r.prompt_version}` : null), cell(when(r.started_at)), ui);
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

async function refresh() {
  try {
    await Promise.all([refreshApprovals(), refreshRuns()]);
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
  for (const id of ['approvals', 'runs', 'decisions']) $(id).replaceChildren();
  $('run-section').hidden = true;
  whoAmI().then(() => notice('Signed out.', true));
});
$('start-form').addEventListener('submit', start);
$('show-names').addEventListener('click', () => {
  state.names = !state.names;
  $('show-names').textContent = state.names ? 'Hide patient names' : 'Show patient names';
  if (state.selected) select(state.selected);
});
$('cancel-run').addEventListener('click', async () => {
  if (!state.selected) return;
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

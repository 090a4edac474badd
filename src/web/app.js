// The breakglass page: one script, no dependencies, no inline code (the server's CSP allows
// only this origin's files). It talks to /v1 with the HttpOnly session cookie; every
// state-changing call carries the session's CSRF token (GET /v1/me hands it out).
'use strict';

const S = { me: null, csrf: null, options: null, es: null, tick: null, refresh: null };

// ---- small helpers ----
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || ('HTTP ' + status));
    this.status = status;
    this.field = e.field || '';
    this.code = e.code || '';
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && S.csrf) headers['X-CSRF-Token'] = S.csrf;
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let j = null;
  try { j = await r.json(); } catch (_) { j = null; }
  if (!r.ok) {
    if (r.status === 401 && S.me && !path.startsWith('/v1/auth/login')) { loggedOut('Your session ended. Log in again.'); }
    throw new ApiError(r.status, j);
  }
  return j;
}

function toast(msg) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

function fmtDuration(sec) {
  sec = Math.max(0, Math.round(sec));
  const d = Math.floor(sec / 86400), hr = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60), s = sec % 60;
  if (d) return d + 'd ' + hr + 'h';
  if (hr) return hr + 'h ' + String(m).padStart(2, '0') + 'm';
  return m + ':' + String(s).padStart(2, '0');
}
function fmtSpan(sec) { // "2h", "45m", "90s": what the API's duration fields take
  if (sec % 3600 === 0) return (sec / 3600) + 'h';
  if (sec % 60 === 0) return (sec / 60) + 'm';
  return sec + 's';
}
function parseSpan(text) { // "1h30m", "45m", "90s", "600" -> seconds, or NaN
  text = String(text).trim();
  if (/^\d+$/.test(text)) return Number(text);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m || text === '') return NaN;
  return (Number(m[1] || 0) * 3600) + (Number(m[2] || 0) * 60) + Number(m[3] || 0);
}
// ---- passkeys (WebAuthn) ----
const b64u = {
  enc(buf) {
    const bytes = new Uint8Array(buf);
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },
  dec(text) {
    const s = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  },
};
const passkeysHere = () => typeof window.PublicKeyCredential !== 'undefined';
function assertionJson(cred) {
  const r = cred.response;
  return { id: b64u.enc(cred.rawId), client_data_json: b64u.enc(r.clientDataJSON), authenticator_data: b64u.enc(r.authenticatorData), signature: b64u.enc(r.signature) };
}
async function getAssertion(o) {
  const cred = await navigator.credentials.get({
    publicKey: {
      challenge: b64u.dec(o.challenge), rpId: o.rp_id, timeout: o.timeout, userVerification: 'required',
      allowCredentials: (o.allow || []).map((id) => ({ type: 'public-key', id: b64u.dec(id) })),
    },
  });
  return assertionJson(cred);
}
async function passkeyLogin() {
  const o = await api('POST', '/v1/auth/passkey/options');
  const credential = await getAssertion(o);
  const j = await api('POST', '/v1/auth/passkey/login', { credential, cookie: true });
  S.csrf = j.csrf;
}
async function addPasskey(name) {
  const o = await api('POST', '/v1/passkeys/options');
  const cred = await navigator.credentials.create({
    publicKey: {
      challenge: b64u.dec(o.challenge), rp: { id: o.rp_id, name: o.rp_name },
      user: { id: b64u.dec(o.user.id), name: o.user.name, displayName: o.user.display_name },
      pubKeyCredParams: o.algorithms.map((alg) => ({ type: 'public-key', alg })),
      excludeCredentials: o.exclude.map((id) => ({ type: 'public-key', id: b64u.dec(id) })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
      timeout: o.timeout, attestation: 'none',
    },
  });
  return api('POST', '/v1/passkeys', {
    name, client_data_json: b64u.enc(cred.response.clientDataJSON), attestation_object: b64u.enc(cred.response.attestationObject),
  });
}
// Whether this person has a passkey: read once after login, in the background (it must not
// hold up the first view), and after adding or removing one.
async function loadPasskeys() {
  try { S.passkeys = (await api('GET', '/v1/passkeys')).passkeys; } catch (_) { S.passkeys = null; }
  return S.passkeys;
}

function when(iso) { return iso ? new Date(iso).toLocaleString() : '—'; }
function secondsUntil(iso) { return (Date.parse(iso) - Date.now()) / 1000; }
function hasRole(r) { return S.me && S.me.roles.includes(r); }

// ---- navigation ----
function go(path, replace) {
  if (replace) history.replaceState(null, '', path); else history.pushState(null, '', path);
  render();
}
document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a[data-nav]');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
  ev.preventDefault();
  go(a.getAttribute('href'));
});
window.addEventListener('popstate', () => render());

function setMain(title, ...kids) {
  const main = document.getElementById('main');
  main.replaceChildren(h('h1', { text: title }), ...kids);
  document.title = title + ' · breakglass';
}

function drawNav() {
  const nav = document.getElementById('nav');
  if (!S.me) { nav.hidden = true; nav.replaceChildren(); return; }
  const links = [['/inbox', 'Inbox'], ['/new', 'Request'], ['/grants', 'My grants']];
  if (hasRole('auditor') || hasRole('admin')) links.push(['/reviews', 'Reviews'], ['/audit', 'Audit']);
  links.push(['/health', 'Health'], ['/passkeys', 'Passkeys']);
  const here = location.pathname;
  nav.replaceChildren(
    ...links.map(([href, label]) => h('a', { href, 'data-nav': true, 'aria-current': here === href ? 'page' : null, text: label })),
    h('span', { class: 'who', text: S.me.user }),
    h('button', { type: 'button', onclick: logout, text: 'Log out' }));
  nav.hidden = false;
}

// ---- session ----
async function loadMe() {
  try {
    S.me = await api('GET', '/v1/me');
    S.csrf = S.me.csrf || null;
  } catch (e) {
    S.me = null;
    S.csrf = null;
    if (e.status !== 401) throw e;
  }
}

function loggedOut(msg) {
  S.me = null; S.csrf = null; S.options = null; S.passkeys = undefined;
  if (S.es) { S.es.close(); S.es = null; }
  render();
  if (msg) toast(msg);
}

async function logout() {
  try { await api('POST', '/v1/auth/logout'); } catch (_) { /* the cookie is cleared either way */ }
  loggedOut('Logged out.');
}

function viewLogin() {
  const err = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card', novalidate: true },
    h('label', { for: 'u', text: 'User name' }),
    h('input', { id: 'u', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none' }),
    h('label', { for: 'p', text: 'Password' }),
    h('input', { id: 'p', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('label', { for: 't', text: 'Authenticator code' }),
    h('input', { id: 't', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6,8}', required: true }),
    err,
    h('div', { class: 'row' }, h('button', { type: 'submit', text: 'Log in' }),
      passkeysHere() ? h('button', { type: 'button', class: 'secondary', id: 'pk-login', text: 'Log in with a passkey' }) : null));
  const pk = form.querySelector('#pk-login');
  if (pk) {
    pk.addEventListener('click', async () => {
      err.textContent = '';
      pk.disabled = true;
      try {
        await passkeyLogin();
        await loadMe();
        render();
      } catch (e) {
        err.textContent = e.name === 'NotAllowedError' ? 'The passkey prompt was closed or timed out.' : e.message;
        pk.disabled = false;
      }
    });
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      const j = await api('POST', '/v1/auth/login', {
        username: form.username.value.trim(), password: form.password.value, totp: form.totp.value.trim(), cookie: true,
      });
      S.csrf = j.csrf;
      await loadMe();
      render();
    } catch (e) {
      err.textContent = e.message;
      btn.disabled = false;
    }
  });
  setMain('Log in', form);
  document.getElementById('u').focus();
}

// ---- live updates ----
function startEvents() {
  if (S.es || !S.me || typeof EventSource === 'undefined') return;
  const live = document.getElementById('live');
  const es = new EventSource('/v1/events', { withCredentials: true });
  S.es = es;
  es.addEventListener('open', () => { live.textContent = 'live'; });
  // After a dropped connection the browser reconnects with Last-Event-ID and the server
  // replays what was missed; when it cannot (a restart, too long away) it sends "reset".
  es.addEventListener('reset', () => scheduleRefresh());
  es.addEventListener('error', () => { live.textContent = 'reconnecting…'; });
  es.addEventListener('request', () => scheduleRefresh());
  es.addEventListener('review', () => scheduleRefresh());
  es.addEventListener('alert', (ev) => {
    try { const a = JSON.parse(ev.data); toast('Alert: ' + (a.message || a.kind || 'raised')); } catch (_) { /* ignore */ }
    scheduleRefresh();
  });
}
// Views that show live state are drawn again when something changes; never while the user is
// typing into them (that waits until the field loses focus), never the request form.
function scheduleRefresh() {
  clearTimeout(S.refresh);
  S.refresh = setTimeout(() => {
    if (['/new', '/audit', '/passkeys'].includes(location.pathname)) return;
    if (location.pathname.startsWith('/reviews/') && document.getElementById('verdict-form')) return;
    const a = document.activeElement;
    if (a && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName) && document.getElementById('main').contains(a)) {
      a.addEventListener('blur', () => scheduleRefresh(), { once: true });
      return;
    }
    render({ keepFocus: true });
  }, 150);
}

// ---- request cards ----
function title(r) { return r.requester + ' · ' + r.privilege + ' on ' + r.resource; }

function approvalSummary(r) {
  const got = r.approvals.length;
  const need = r.required_approvals;
  const groups = (r.approval_groups || []).map((g) => g.count + ' of ' + g.pool + (g.escalated ? ' (escalated to ' + g.escalate_to + ')' : ''));
  const may = (r.approval_groups || []).filter((g) => Array.isArray(g.may_approve))
    .map((g) => g.pool + ': ' + (g.may_approve.length ? g.may_approve.join(', ') : 'nobody'));
  return got + ' of ' + need + ' approvals' + (groups.length ? ' — needs ' + groups.join(' and ') : '') +
    (got ? ' — by ' + r.approvals.map((a) => a.approver).join(', ') : '') +
    (may.length ? ' — may still approve: ' + may.join('; ') : '');
}

function facts(r) {
  const rows = [
    ['State', h('span', { class: 'badge ' + r.state, text: r.state })],
    ['Reason', r.reason], ['Ticket', r.ticket], ['Duration', fmtSpan(r.duration)], ['Tier', String(r.tier)],
  ];
  if (r.tier >= 2) rows.push(['Approvals', approvalSummary(r)]);
  if (r.risk_signals && r.risk_signals.length) rows.push(['Risk', r.risk_signals.map((s) => h('span', { class: 'badge risk', text: s.replace('_', ' ') }))]);
  if (r.emergency) rows.push(['Emergency', 'yes']);
  if (r.state === 'pending') rows.push(['Decide by', when(r.approval_deadline)]);
  if (r.starts_at) rows.push(['Started', when(r.starts_at)]);
  if (r.ends_at) rows.push(['Ends', when(r.ends_at)]);
  if (r.end_reason) rows.push(['Ended', r.end_reason + (r.ended_by ? ' (' + r.ended_by + ')' : '')]);
  if (r.last_error) rows.push(['Error', r.last_error]);
  return h('dl', null, ...rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', null, v)]));
}

// Approve or deny in two taps: the first sends; when the server wants a fresh code (field
// "totp") a code field appears and the second tap sends it.
function decisionControls(r) {
  const box = h('div', { class: 'decide' });
  const msg = h('p', { class: 'error', role: 'alert' });
  const idp = 'd-' + r.id;
  let mode = null; // 'approve' | 'deny'
  const code = h('input', { id: idp + '-code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6,8}' });
  const codeWrap = h('div', { hidden: true }, h('label', { for: idp + '-code', text: 'Authenticator code (fresh MFA is needed)' }), code);
  const reason = h('input', { id: idp + '-reason' });
  const reasonWrap = h('div', { hidden: true }, h('label', { for: idp + '-reason', text: 'Why deny?' }), reason);
  const confirm = h('button', { type: 'button', hidden: true, text: 'Confirm' });
  const approveBtn = h('button', { type: 'button', text: 'Approve' });
  const denyBtn = h('button', { type: 'button', class: 'danger', text: 'Deny' });

  async function send(withPasskey) {
    msg.textContent = '';
    const body = {};
    if (!codeWrap.hidden && code.value.trim()) body.totp = code.value.trim();
    if (mode === 'deny') body.reason = reason.value.trim();
    if (mode === 'deny' && !body.reason) { reasonWrap.hidden = false; confirm.hidden = false; reason.focus(); return; }
    for (const b of [approveBtn, denyBtn, confirm]) b.disabled = true;
    try {
      // A passkey tap is the fresh factor: always where the rule asks for it, and whenever this
      // person has one (so no code needs typing).
      const usePasskey = withPasskey || r.approver_mfa === 'passkey' || (S.passkeys && S.passkeys.length > 0 && !body.totp);
      if (usePasskey && passkeysHere()) {
        const o = await api('POST', '/v1/requests/' + encodeURIComponent(r.id) + '/passkey-options');
        body.passkey = await getAssertion(o);
      }
      await api('POST', '/v1/requests/' + encodeURIComponent(r.id) + '/' + mode, body);
      toast((mode === 'approve' ? 'Approved: ' : 'Denied: ') + title(r));
      render({ keepFocus: true });
    } catch (e) {
      for (const b of [approveBtn, denyBtn, confirm]) b.disabled = false;
      if (e.field === 'totp') {
        codeWrap.hidden = false; confirm.hidden = false; code.focus();
        msg.textContent = e.message;
      } else if (e.name === 'NotAllowedError') {
        msg.textContent = 'The passkey prompt was closed or timed out; tap again.';
      } else {
        msg.textContent = e.message;
      }
    }
  }
  approveBtn.addEventListener('click', () => { mode = 'approve'; reasonWrap.hidden = true; send(false); });
  denyBtn.addEventListener('click', () => { mode = 'deny'; send(false); });
  confirm.addEventListener('click', () => send(false));
  for (const input of [code, reason]) {
    input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); send(false); } });
  }
  if (r.approver_mfa === 'passkey') box.append(h('p', { class: 'hint', text: 'This rule needs a passkey: approve with your security key or device.' }));
  box.append(codeWrap, reasonWrap, msg, h('div', { class: 'row' }, approveBtn, denyBtn, confirm));
  return box;
}

function requestCard(r, withActions) {
  const head = h('h2', null, h('a', { href: '/requests/' + encodeURIComponent(r.id), 'data-nav': true, text: title(r) }));
  const card = h('article', { class: 'card', 'aria-label': title(r) }, head, facts(r));
  if (withActions) card.append(actions(r));
  return card;
}

function actions(r) {
  const mine = S.me && r.requester === S.me.user;
  const box = h('div');
  if (r.state === 'pending' && !mine && hasRole('approver')) box.append(decisionControls(r));
  if (mine && r.state === 'pending') {
    box.append(h('div', { class: 'row' }, h('button', {
      type: 'button', class: 'secondary', text: 'Cancel request',
      onclick: (ev) => act(ev.target, r, 'cancel', {}, 'Cancelled'),
    })));
  }
  if (r.state === 'active' || r.state === 'approved') box.append(grantPanel(r, mine));
  return box;
}

async function act(btn, r, what, body, done) {
  btn.disabled = true;
  try {
    await api('POST', '/v1/requests/' + encodeURIComponent(r.id) + '/' + what, body);
    toast(done + ': ' + title(r));
    render({ keepFocus: true });
  } catch (e) {
    btn.disabled = false;
    toast(e.message);
  }
}

function optionFor(r) {
  return (S.options && S.options.options || []).find((o) => o.resource === r.resource && o.privilege === r.privilege && o.tier === r.tier);
}

// An active grant: the countdown (updated every second, no reload), how to use it, extend and
// revoke in one tap.
function grantPanel(r, mine) {
  const box = h('div', { class: 'grant' });
  if (r.ends_at) {
    const count = h('span', { class: 'count', 'data-ends': r.ends_at, role: 'timer', 'aria-label': 'time left' });
    box.append(h('p', null, count, ' left'));
    updateCount(count);
  }
  if (!mine) return box;
  const opt = optionFor(r);
  const use = opt ? opt.use : '';
  if (r.state === 'active' && use === 'ssh') {
    box.append(h('p', { class: 'hint', text: 'Log in with a certificate for this grant (made and removed by the CLI):' }),
      h('pre', { text: 'breakglass ssh ' + r.id + ' USER@HOST' }));
  }
  if (r.state === 'active' && use === 'credential') {
    const out = h('pre', { hidden: true });
    const btn = h('button', { type: 'button', class: 'secondary', text: 'Show the password (once)' });
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        const cred = await api('GET', '/v1/requests/' + encodeURIComponent(r.id) + '/credentials');
        out.textContent = Object.entries(cred).map(([k, v]) => k + ': ' + v).join('\n');
        out.hidden = false;
        btn.remove();
      } catch (e) { btn.disabled = false; toast(e.message); }
    });
    box.append(h('p', { class: 'hint', text: 'The database password is shown only once; the server keeps no readable copy after this.' }), btn, out);
  }
  if (r.state === 'active') {
    const row = h('div', { class: 'row' });
    if (!r.extension) {
      const max = opt ? opt.max_duration : r.duration;
      const span = Math.min(r.duration, max);
      row.append(h('button', {
        type: 'button', text: 'Extend ' + fmtSpan(span),
        onclick: (ev) => act(ev.target, r, 'extend', { duration: fmtSpan(span), reason: 'Extension from the page: ' + r.reason }, 'Extension asked'),
      }));
    } else {
      row.append(h('span', { class: 'badge pending', text: 'extension waiting for approval' }));
    }
    row.append(h('button', {
      type: 'button', class: 'danger', text: 'Revoke now',
      onclick: (ev) => act(ev.target, r, 'revoke', { reason: 'ended by ' + S.me.user + ' from the page' }, 'Revoked'),
    }));
    box.append(row);
  }
  return box;
}

function updateCount(el) {
  const left = secondsUntil(el.dataset.ends);
  el.textContent = fmtDuration(left);
  el.classList.toggle('soon', left < 300);
}
function startTicker() {
  clearInterval(S.tick);
  S.tick = setInterval(() => {
    for (const el of document.querySelectorAll('[data-ends]')) updateCount(el);
  }, 1000);
}

// ---- the timeline, checked here against the signed checkpoint ----
// RFC 9162 leaf and node hashes, the inclusion proof of each entry, and the checkpoint's
// Ed25519 signature (a C2SP signed note) by the log's verifier key: done in this script with
// WebCrypto, so "verified" does not rest on the server's word for it.
const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
async function sha256(...parts) {
  const buf = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { buf.set(p, o); o += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}
function sameBytes(a, b) { return a.length === b.length && a.every((x, i) => x === b[i]); }
async function verifyInclusion(index, size, leafHash, proof, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leafHash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(Uint8Array.of(1), p, r);
      if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
    } else {
      r = await sha256(Uint8Array.of(1), r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && sameBytes(r, root);
}
// The checkpoint's size and root when the verifier key signed it, else null.
async function verifyCheckpoint(note, verifierKey) {
  // name+id+base64: the base64 part may itself hold '+', so only the first two separate.
  const vk = verifierKey.trim();
  const p1 = vk.indexOf('+'), p2 = vk.indexOf('+', p1 + 1);
  if (p1 < 0 || p2 < 0) return null;
  const name = vk.slice(0, p1), id = vk.slice(p1 + 1, p2), keyB64 = vk.slice(p2 + 1);
  const key = fromB64(keyB64 || '');
  if (key.length !== 33 || key[0] !== 1) return null;
  const idHash = await sha256(new TextEncoder().encode(name + '\n'), key);
  if (Array.from(idHash.slice(0, 4), (b) => b.toString(16).padStart(2, '0')).join('') !== id) return null;
  const sep = note.indexOf('\n\n');
  if (sep < 0) return null;
  const text = note.slice(0, sep + 1);
  const lines = text.split('\n');
  const size = Number(lines[1]);
  const root = fromB64(lines[2] || '');
  if (!Number.isSafeInteger(size) || root.length !== 32) return null;
  const pub = await crypto.subtle.importKey('raw', key.slice(1), { name: 'Ed25519' }, false, ['verify']);
  for (const line of note.slice(sep + 2).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const sig = fromB64(m[2]);
    if (sig.length !== 68 || !sameBytes(sig.slice(0, 4), idHash.slice(0, 4))) continue;
    if (await crypto.subtle.verify({ name: 'Ed25519' }, pub, sig.slice(4), new TextEncoder().encode(text))) return { size, root };
  }
  return null;
}
async function verifiedTimeline(t) {
  const head = await verifyCheckpoint(t.checkpoint, t.key).catch(() => null);
  const out = [];
  for (const e of t.entries) {
    const leaf = fromB64(e.leaf);
    let ok = false;
    if (head && head.size === t.size) {
      ok = await verifyInclusion(e.index, head.size, await sha256(Uint8Array.of(0), leaf), e.proof.map(fromB64), head.root);
    }
    let ev = {};
    try { ev = JSON.parse(new TextDecoder().decode(leaf)); } catch (_) { ok = false; }
    out.push({ index: e.index, ok, ev });
  }
  return { head, entries: out };
}
function describe(ev) {
  const d = ev.details || {};
  const extra = ['comment', 'reason', 'ticket', 'serial', 'connector', 'duration'].filter((k) => d[k]).map((k) => k + ': ' + d[k]);
  return ev.type + ' by ' + ev.actor + (extra.length ? ' (' + extra.join(', ') + ')' : '');
}
async function timelineSection(r) {
  let t;
  try { t = await api('GET', '/v1/requests/' + encodeURIComponent(r.id) + '/timeline'); } catch (e) {
    return h('p', { class: 'error', text: 'The audit timeline could not be read: ' + e.message });
  }
  const v = await verifiedTimeline(t);
  const all = v.entries.length > 0 && v.entries.every((e) => e.ok);
  const keyId = t.key.split('+').slice(0, 2).join('+');
  const summary = v.head
    ? h('p', { class: all ? 'verified' : 'unverified', id: 'timeline-status', text: (all ? '✓ Verified: ' : '✗ Not verified: ') + v.entries.filter((e) => e.ok).length + ' of ' + v.entries.length + ' entries are in the log checkpoint of ' + t.size + ' entries signed by ' + keyId + '.' })
    : h('p', { class: 'unverified', id: 'timeline-status', text: '✗ Not verified: the checkpoint signature by ' + keyId + ' does not check.' });
  return h('div', null, summary,
    h('ol', { class: 'timeline' }, ...v.entries.map((e) => h('li', { 'data-index': e.index },
      h('time', { datetime: e.ev.time || '', text: when(e.ev.time) }), ' — ', describe(e.ev), ' ',
      h('span', { class: e.ok ? 'verified' : 'unverified', text: e.ok ? '✓ #' + e.index : '✗ #' + e.index })))));
}

// ---- views ----
async function viewInbox() {
  const list = await api('GET', '/v1/requests?state=pending&limit=200');
  const waiting = list.requests.filter((r) => r.requester !== S.me.user);
  const kids = [];
  if (!hasRole('approver')) kids.push(h('p', { class: 'muted', text: 'You are not an approver: requests you may see are listed, but you cannot decide them.' }));
  if (!waiting.length) kids.push(h('p', { class: 'muted', text: 'Nothing waits for a decision.' }));
  for (const r of waiting) kids.push(requestCard(r, true));
  setMain('Inbox (' + waiting.length + ')', ...kids);
}

async function viewRequest(id) {
  const r = await api('GET', '/v1/requests/' + encodeURIComponent(id));
  if (!S.options) S.options = await api('GET', '/v1/request-options');
  const [tl, sessions] = await Promise.all([timelineSection(r), api('GET', '/v1/sessions?request=' + encodeURIComponent(r.id)).then((j) => j.sessions, () => [])]);
  const recorded = sessions.length
    ? [h('h2', { text: 'Recorded sessions' }), h('ul', null, ...sessions.map((s) => h('li', null,
        h('a', { href: '/sessions/' + encodeURIComponent(s.id) + '/replay', text: 'Replay ' + s.id }),
        ' — ' + (s.user || '') + ', ' + when(s.started_at) + (s.end_reason ? ', ' + s.end_reason : ''))))]
    : [];
  setMain(title(r), h('section', { class: 'card' }, facts(r), actions(r)),
    h('h2', { text: 'Timeline (from the audit log)' }), tl, ...recorded);
}

async function viewGrants() {
  if (!S.options) S.options = await api('GET', '/v1/request-options');
  const list = await api('GET', '/v1/requests?mine=true&limit=50');
  const live = list.requests.filter((r) => ['active', 'approved', 'pending'].includes(r.state));
  const past = list.requests.filter((r) => !live.includes(r)).slice(0, 10);
  const kids = [];
  if (!live.length) kids.push(h('p', { class: 'muted' }, 'No open requests or grants. ', h('a', { href: '/new', 'data-nav': true, text: 'Ask for access' })));
  for (const r of live) kids.push(requestCard(r, true));
  if (past.length) kids.push(h('h2', { text: 'Recently ended' }), ...past.map((r) => requestCard(r, false)));
  setMain('My grants', ...kids);
}

// The rule a request will fall under, in words: "needs 2 of dba-approvers; off-hours adds 1".
function ruleText(o, emergency) {
  if (!o) return '';
  if (emergency && o.emergency_allowed) return 'Emergency: granted at once, the security contacts are alerted, a review follows.';
  if (o.tier < 2) return 'Tier 1: granted at once on your own approval; logged and reviewed.';
  const parts = ['needs ' + o.groups.map((g) => g.count + ' of ' + g.pool).join(' and ')];
  const risk = S.options.risk;
  if (S.options.off_hours_now && risk.off_hours_extra_approvals) parts.push('off-hours adds ' + risk.off_hours_extra_approvals);
  if (S.options.new_source_now && risk.new_source_extra_approvals) parts.push('a new address adds ' + risk.new_source_extra_approvals);
  for (const g of o.groups) if (g.escalate_to) parts.push('after ' + fmtSpan(g.escalate_after) + ' ' + g.escalate_to + ' may approve too');
  return 'Tier ' + o.tier + ': ' + parts.join('; ') + '.';
}

async function viewNew() {
  S.options = await api('GET', '/v1/request-options');
  const opts = S.options.options;
  if (!opts.length) return setMain('Ask for access', h('p', { class: 'muted', text: 'The policy lets you ask for nothing.' }));
  const sel = h('select', { id: 'opt', name: 'option' }, ...opts.map((o, i) => h('option', { value: i, text: o.privilege + ' on ' + o.resource + ' (tier ' + o.tier + ', up to ' + fmtSpan(o.max_duration) + ')' })));
  const dur = h('input', { id: 'dur', name: 'duration', inputmode: 'text', 'aria-describedby': 'dur-hint' });
  const durHint = h('p', { id: 'dur-hint', class: 'hint' });
  const reason = h('textarea', { id: 'reason', name: 'reason', required: true, 'aria-describedby': 'reason-hint' });
  const tp = S.options.ticket_pattern;
  const ticket = h('input', { id: 'ticket', name: 'ticket', required: true, autocapitalize: 'characters', 'aria-describedby': 'ticket-hint' });
  const emergency = h('input', { id: 'emergency', name: 'emergency', type: 'checkbox' });
  const emergencyWrap = h('label', { class: 'check', for: 'emergency' }, emergency, 'Emergency: grant at once (alerted, reviewed)');
  const rule = h('p', { class: 'rule', id: 'rule', 'aria-live': 'polite' });
  const err = h('p', { class: 'error', role: 'alert' });
  function update() {
    const o = opts[Number(sel.value)];
    durHint.textContent = 'At most ' + fmtSpan(o.max_duration) + ', e.g. "30m" or "1h".';
    if (!dur.value || parseSpan(dur.value) > o.max_duration) dur.value = fmtSpan(Math.min(o.max_duration, 3600));
    emergencyWrap.hidden = !o.emergency_allowed;
    if (!o.emergency_allowed) emergency.checked = false;
    rule.textContent = ruleText(o, emergency.checked);
  }
  sel.addEventListener('change', update);
  emergency.addEventListener('change', update);
  const form = h('form', { class: 'card', novalidate: true },
    h('label', { for: 'opt', text: 'Resource and privilege' }), sel,
    h('label', { for: 'dur', text: 'Duration' }), dur, durHint,
    h('label', { for: 'reason', text: 'Reason' }), reason,
    h('p', { id: 'reason-hint', class: 'hint', text: 'At least ' + S.options.reason_min_length + ' characters: what is broken and what you will do.' }),
    h('label', { for: 'ticket', text: 'Incident or change ticket' }), ticket,
    h('p', { id: 'ticket-hint', class: 'hint', text: tp ? 'Must match ' + tp : 'Any ticket reference.' }),
    emergencyWrap, rule, err,
    h('div', { class: 'row' }, h('button', { type: 'submit', text: 'Send request' })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const o = opts[Number(sel.value)];
    const secs = parseSpan(dur.value);
    if (!(secs > 0) || secs > o.max_duration) { err.textContent = 'Duration: give at most ' + fmtSpan(o.max_duration) + '.'; dur.focus(); return; }
    if (reason.value.trim().length < S.options.reason_min_length) { err.textContent = 'Reason: at least ' + S.options.reason_min_length + ' characters.'; reason.focus(); return; }
    if (tp) {
      let ok = true;
      try { ok = new RegExp(tp).test(ticket.value.trim()); } catch (_) { ok = true; }
      if (!ok) { err.textContent = 'Ticket: must match ' + tp + '.'; ticket.focus(); return; }
    } else if (!ticket.value.trim()) { err.textContent = 'Ticket: required.'; ticket.focus(); return; }
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const r = await api('POST', '/v1/requests', {
        resource: o.resource, privilege: o.privilege, tier: o.tier, duration: fmtSpan(secs),
        reason: reason.value.trim(), ticket: ticket.value.trim(), emergency: emergency.checked,
      });
      toast('Sent: ' + title(r));
      go('/requests/' + encodeURIComponent(r.id));
    } catch (e) {
      btn.disabled = false;
      err.textContent = (e.field ? e.field + ': ' : '') + e.message;
    }
  });
  setMain('Ask for access', form);
  update();
}

async function viewHealth() {
  const j = await api('GET', '/v1/connectors');
  const rows = j.connectors.map((c) => h('tr', null,
    h('td', { text: c.name || c.connector || '' }), h('td', { text: c.kind || '' }),
    h('td', null, h('span', { class: 'badge ' + (c.ok ? 'active' : 'risk'), text: c.ok ? 'ok' : (c.state || 'failing') })),
    h('td', { text: c.last_probe_at ? when(c.last_probe_at) : '—' }), h('td', { text: c.last_error || '' })));
  const kids = [h('div', { class: 'card' }, h('table', null,
    h('thead', null, h('tr', null, ...['Connector', 'Kind', 'State', 'Last probe', 'Error'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', null, ...rows)))];
  if (hasRole('auditor') || hasRole('admin')) {
    const s = await api('GET', '/v1/sinks');
    kids.push(h('h2', { text: 'Alert sinks' }));
    if (!s.sinks.length) kids.push(h('p', { class: 'muted', text: 'No sinks are configured ([notify.NAME]).' }));
    else {
      kids.push(h('div', { class: 'card' }, h('table', null,
        h('thead', null, h('tr', null, ...['Sink', 'State', 'Delivered', 'Waiting', 'Last error'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', null, ...s.sinks.map((k) => h('tr', null, h('td', { text: k.name }),
          h('td', null, h('span', { class: 'badge ' + (k.failing ? 'risk' : 'active'), text: k.failing ? 'failing' : 'ok' })),
          h('td', { text: String(k.delivered) }), h('td', { text: String(k.backlog) }), h('td', { text: k.last_error || '' })))))));
    }
  }
  if (j.outbox_failing && j.outbox_failing.length) {
    kids.push(h('h2', { text: 'Deliveries failing' }), h('ul', null, ...j.outbox_failing.map((f) => h('li', { text: f.kind + ': ' + f.attempts + ' attempts' + (f.last_error ? ' — ' + f.last_error : '') }))));
  }
  setMain('Health', ...kids);
}

async function viewPasskeys() {
  const list = await loadPasskeys() || [];
  const err = h('p', { class: 'error', role: 'alert' });
  const name = h('input', { id: 'pk-name', value: 'this device', maxlength: 64 });
  const add = h('button', { type: 'button', text: 'Add a passkey' });
  add.addEventListener('click', async () => {
    err.textContent = '';
    add.disabled = true;
    try {
      await addPasskey(name.value.trim() || 'passkey');
      toast('Passkey added.');
      render({ keepFocus: true });
    } catch (e) {
      add.disabled = false;
      err.textContent = e.name === 'NotAllowedError' ? 'The passkey prompt was closed or timed out.' : e.message;
    }
  });
  const rows = list.map((p) => h('li', null, h('strong', { text: p.name }), ' (' + p.algorithm + ', added ' + when(p.created_at) + (p.last_used_at ? ', last used ' + when(p.last_used_at) : '') + ') ',
    h('button', { type: 'button', class: 'secondary', text: 'Remove ' + p.name, onclick: async (ev) => {
      ev.target.disabled = true;
      try { await api('DELETE', '/v1/passkeys/' + encodeURIComponent(p.id)); render({ keepFocus: true }); } catch (e) { ev.target.disabled = false; toast(e.message); }
    } })));
  setMain('Passkeys',
    h('div', { class: 'card' },
      h('p', { text: 'A passkey logs you in and approves with one tap of your device, and cannot be phished: it only works on this site. Adding one needs a password and code login within the last 10 minutes.' }),
      list.length ? h('ul', { class: 'passkeys' }, ...rows) : h('p', { class: 'muted', text: 'You have no passkey yet.' }),
      passkeysHere() ? h('div', null, h('label', { for: 'pk-name', text: 'Name of the new passkey' }), name, err, h('div', { class: 'row' }, add))
        : h('p', { class: 'muted', text: 'This browser cannot use passkeys.' })));
}

// Auditors: search the log by person, resource, event type and time (newest first, paging
// back), the recorded sessions with replay links, and the current signed checkpoint.
async function viewAudit() {
  const field = (id, label, attrs) => [h('label', { for: id, text: label }), h('input', Object.assign({ id, name: id }, attrs || {}))];
  const form = h('form', { class: 'card', role: 'search' },
    ...field('q-actor', 'Person', { autocapitalize: 'none' }), ...field('q-resource', 'Resource'),
    ...field('q-type', 'Event type (prefix, e.g. request.)'),
    ...field('q-since', 'From (local time)', { type: 'datetime-local' }), ...field('q-until', 'To (local time)', { type: 'datetime-local' }),
    h('div', { class: 'row' }, h('button', { type: 'submit', text: 'Search' })));
  const results = h('div', { id: 'audit-results', 'aria-live': 'polite' });
  let before = null;
  async function search(more) {
    const q = new URLSearchParams();
    const v = (id) => form.querySelector('#' + id).value.trim();
    if (v('q-actor')) q.set('actor', v('q-actor'));
    if (v('q-resource')) q.set('resource', v('q-resource'));
    if (v('q-type')) q.set('type', v('q-type'));
    if (v('q-since')) q.set('since', new Date(v('q-since')).toISOString().replace(/\.\d+Z$/, 'Z'));
    if (v('q-until')) q.set('until', new Date(v('q-until')).toISOString().replace(/\.\d+Z$/, 'Z'));
    if (more && before !== null) q.set('before', before);
    q.set('limit', '50');
    try {
      const j = await api('GET', '/v1/audit/search?' + q.toString());
      if (!more) results.replaceChildren();
      const rows = j.entries.map((e) => h('tr', null, h('td', { text: '#' + e.index }), h('td', { text: when(e.time) }),
        h('td', { text: e.type }), h('td', { text: e.actor }),
        h('td', null, e.request ? h('a', { href: '/requests/' + encodeURIComponent(e.request), 'data-nav': true, text: e.request }) : '—'),
        h('td', { text: Object.entries(e.details).map(([k, x]) => k + '=' + x).join(' ') })));
      let table = results.querySelector('tbody');
      if (!table) {
        results.append(h('table', null, h('thead', null, h('tr', null, ...['#', 'Time', 'Event', 'Who', 'Request', 'Details'].map((t) => h('th', { scope: 'col', text: t })))), h('tbody')));
        table = results.querySelector('tbody');
      }
      table.append(...rows);
      results.querySelector('.more') && results.querySelector('.more').remove();
      before = j.next_before;
      if (!table.children.length) results.append(h('p', { class: 'muted', text: 'No entries match.' }));
      if (before !== null) results.append(h('div', { class: 'row more' }, h('button', { type: 'button', class: 'secondary', text: 'Older entries', onclick: () => search(true) })));
    } catch (e) {
      results.replaceChildren(h('p', { class: 'error', text: (e.field ? e.field + ': ' : '') + e.message }));
    }
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); before = null; search(false); });
  const [sessions, cp] = await Promise.all([
    api('GET', '/v1/sessions').then((j) => j.sessions, () => []),
    fetch('/v1/audit/checkpoint', { credentials: 'same-origin' }).then((r) => (r.ok ? r.text() : '')),
  ]);
  setMain('Audit', form, results,
    h('h2', { text: 'Recorded sessions' }),
    sessions.length ? h('ul', null, ...sessions.slice(-50).reverse().map((x) => h('li', null,
      h('a', { href: '/sessions/' + encodeURIComponent(x.id) + '/replay', text: 'Replay ' + x.id }),
      ' — ' + (x.user || '') + ', request ', h('a', { href: '/requests/' + encodeURIComponent(x.request_id), 'data-nav': true, text: x.request_id }),
      ', ' + when(x.started_at)))) : h('p', { class: 'muted', text: 'No recorded sessions.' }),
    h('h2', { text: 'Current signed checkpoint' }), h('pre', { text: cp || 'not available' }),
    h('p', { class: 'hint', text: 'Verify the whole log offline with: breakglass audit verify' }));
  search(false);
}

// ---- post-incident reviews (auditors and admins; docs/reviews.md) ----
function reviewSubject(rv) { return rv.request_id || ('offline kit use ' + rv.kit_record); }
function reviewCard(rv) {
  const due = rv.overdue ? h('span', { class: 'badge risk', text: 'overdue' }) : null;
  return h('section', { class: 'card' },
    h('h2', null, h('a', { href: '/reviews/' + encodeURIComponent(rv.id), 'data-nav': true, text: rv.requester + ' · ' + reviewSubject(rv) })),
    h('dl', null,
      h('dt', { text: 'Why' }), h('dd', { text: rv.trigger === 'offline_use' ? 'offline kit used' : 'grant ' + rv.trigger }),
      h('dt', { text: 'Due' }), h('dd', null, when(rv.due_at), ' ', due),
      h('dt', { text: 'Verdicts' }), h('dd', { text: rv.verdicts.length + ' of ' + rv.reviewers_needed + (rv.may_review ? ' — yours is wanted' : '') })));
}
async function viewReviews() {
  const list = await api('GET', '/v1/reviews?state=open&limit=200');
  const mine = list.reviews.filter((rv) => rv.may_review);
  const rest = list.reviews.filter((rv) => !rv.may_review);
  const kids = [];
  if (!hasRole('auditor')) kids.push(h('p', { class: 'muted', text: 'You are not an auditor: you may read reviews but not give verdicts.' }));
  if (!list.reviews.length) kids.push(h('p', { class: 'muted', text: 'No review is open.' }));
  if (mine.length) kids.push(h('h2', { text: 'Waiting for your verdict' }), ...mine.map(reviewCard));
  if (rest.length) kids.push(h('h2', { text: 'Open, not yours to review' }), ...rest.map(reviewCard));
  setMain('Reviews', ...kids);
}
function verdictForm(rv) {
  const msg = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card', id: 'verdict-form', novalidate: true },
    h('h2', { text: 'Your verdict' }),
    h('label', { for: 'v-verdict', text: 'Verdict' }),
    h('select', { id: 'v-verdict', name: 'verdict' },
      h('option', { value: 'appropriate', text: 'Appropriate' }),
      h('option', { value: 'appropriate_with_findings', text: 'Appropriate, with findings' }),
      h('option', { value: 'inappropriate', text: 'Inappropriate (alerts the security contacts)' })),
    h('label', { for: 'v-findings', text: 'Findings (required unless appropriate)' }),
    h('textarea', { id: 'v-findings', name: 'findings' }),
    h('label', { for: 'v-ticket', text: 'Follow-up ticket (optional)' }),
    h('input', { id: 'v-ticket', name: 'follow_up_ticket', autocapitalize: 'none' }),
    msg, h('div', { class: 'row' }, h('button', { type: 'submit', text: 'Submit verdict' })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    const body = { verdict: form.verdict.value };
    if (form.findings.value.trim()) body.findings = form.findings.value.trim();
    if (form.follow_up_ticket.value.trim()) body.follow_up_ticket = form.follow_up_ticket.value.trim();
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      await api('POST', '/v1/reviews/' + encodeURIComponent(rv.id), body);
      toast('Verdict recorded.');
      form.remove();
      render({ keepFocus: true });
    } catch (e) {
      msg.textContent = (e.field ? e.field + ': ' : '') + e.message;
      btn.disabled = false;
    }
  });
  return form;
}
async function viewReview(id) {
  const rv = await api('GET', '/v1/reviews/' + encodeURIComponent(id));
  const verdicts = rv.verdicts.length
    ? h('ul', null, ...rv.verdicts.map((v) => h('li', { text: v.verdict.replace(/_/g, ' ') + ' — ' + v.reviewer + ', ' + when(v.at) + (v.findings ? ': ' + v.findings : '') + (v.follow_up_ticket ? ' (follow-up ' + v.follow_up_ticket + ')' : '') })))
    : h('p', { class: 'muted', text: 'No verdict yet.' });
  const head = h('section', { class: 'card' },
    h('dl', null,
      h('dt', { text: 'Review' }), h('dd', null, h('span', { class: 'badge ' + (rv.state === 'open' ? 'pending' : 'active'), text: rv.state }), rv.overdue ? h('span', { class: 'badge risk', text: 'overdue' }) : null),
      h('dt', { text: 'Due' }), h('dd', { text: when(rv.due_at) }),
      h('dt', { text: 'Needs' }), h('dd', { text: rv.reviewers_needed + ' verdict' + (rv.reviewers_needed > 1 ? 's' : '') + ' from auditors who neither asked nor approved' })),
    h('h3', { text: 'Verdicts' }), verdicts);
  const kids = [head];
  if (rv.may_review) kids.push(verdictForm(rv));
  if (rv.request) {
    kids.push(h('h2', { text: 'The request' }), h('section', { class: 'card' }, facts(rv.request),
      h('p', null, h('a', { href: '/requests/' + encodeURIComponent(rv.request.id), 'data-nav': true, text: 'Open the request' }))));
  }
  if (rv.connector_actions.length) {
    kids.push(h('h2', { text: 'What the connector did' }), h('ul', null, ...rv.connector_actions.map((a) => h('li', null,
      h('time', { datetime: a.time, text: when(a.time) }), ' — ', describe(a), ' #' + a.index))));
  }
  if (rv.sessions.length) {
    kids.push(h('h2', { text: 'Recorded sessions' }), h('ul', null, ...rv.sessions.map((x) => h('li', null,
      h('a', { href: '/sessions/' + encodeURIComponent(x.id) + '/replay', text: 'Replay ' + x.id }),
      ' — ' + when(x.started_at) + ', ' + x.chunks + ' chunks, ',
      h('span', { class: x.verified ? 'verified' : 'unverified', text: x.verified ? '✓ matches the audit log' : '✗ ' + (x.problem || 'does not verify') })))));
  }
  // The timeline, verified here in the browser against the signed checkpoint.
  if (rv.request) kids.push(h('h2', { text: 'Timeline (from the audit log)' }), await timelineSection(rv.request));
  setMain('Review of ' + rv.requester + ' · ' + reviewSubject(rv), ...kids);
}

// ---- the router ----
let rendering = 0;
async function render(opts) {
  const seq = ++rendering;
  const focusId = opts && opts.keepFocus && document.activeElement ? document.activeElement.id : '';
  drawNav();
  if (!S.me) { clearInterval(S.tick); return viewLogin(); }
  startEvents();
  startTicker();
  if (S.passkeys === undefined) { S.passkeys = null; loadPasskeys(); }
  const path = location.pathname;
  try {
    let m;
    if (path === '/' || path === '/inbox') {
      if (path === '/' && !hasRole('approver')) { history.replaceState(null, '', '/grants'); drawNav(); await viewGrants(); } else await viewInbox();
    } else if (path === '/new') await viewNew();
    else if (path === '/grants') await viewGrants();
    else if (path === '/health') await viewHealth();
    else if (path === '/audit') await viewAudit();
    else if (path === '/passkeys') await viewPasskeys();
    else if (path === '/reviews') await viewReviews();
    else if ((m = /^\/reviews\/([^/]+)$/.exec(path))) await viewReview(decodeURIComponent(m[1]));
    else if ((m = /^\/requests\/([^/]+)$/.exec(path))) await viewRequest(decodeURIComponent(m[1]));
    else setMain('Not found', h('p', null, h('a', { href: '/', 'data-nav': true, text: 'Back to the start' })));
  } catch (e) {
    if (seq !== rendering) return;
    if (e.status === 401) return;
    setMain('Something went wrong', h('p', { class: 'error', text: e.message }));
  }
  if (seq !== rendering) return;
  if (focusId && document.getElementById(focusId)) document.getElementById(focusId).focus();
  else if (!opts || !opts.keepFocus) document.getElementById('main').focus({ preventScroll: true });
}

(async function boot() {
  try { await loadMe(); } catch (e) { toast(e.message); }
  render();
}());

// A recorded session played with asciinema-player (bundled from npm), beside what the server
// knows of it. Served only under /sessions/{id}/replay, whose CSP allows WebAssembly (the
// player's terminal emulator) and nothing else beyond the page's own.
'use strict';
(async function replay() {
  const id = decodeURIComponent(location.pathname.split('/')[2] || '');
  const status = document.getElementById('status');
  const facts = document.getElementById('facts');
  const row = (k, v) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    if (v instanceof Node) dd.append(v); else dd.textContent = String(v);
    facts.append(dt, dd);
  };
  try {
    const r = await fetch('/v1/sessions/' + encodeURIComponent(id), { credentials: 'same-origin' });
    const s = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((s.error && s.error.message) || 'HTTP ' + r.status);
    const link = document.createElement('a');
    link.href = '/requests/' + encodeURIComponent(s.request_id);
    link.textContent = s.request_id;
    row('Session', s.id);
    row('Request', link);
    for (const k of ['user', 'started_at', 'ended_at', 'end_reason', 'chunks', 'bytes', 'complete']) {
      if (s[k] !== undefined && s[k] !== null && s[k] !== '') row(k.replace('_', ' '), s[k]);
    }
    window.AsciinemaPlayer.create('/v1/sessions/' + encodeURIComponent(id) + '/recording',
      document.getElementById('player'), { fit: 'width', controls: true, idleTimeLimit: 2 });
    status.textContent = 'Recording loaded: press play (space) to replay.';
  } catch (e) {
    status.textContent = 'Cannot replay: ' + e.message;
    status.className = 'error';
  }
}());

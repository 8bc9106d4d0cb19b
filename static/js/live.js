// Live session updates for the portal: one WebSocket per page, reconnecting with backoff.
// Elements with data-live-session="<id>" are refreshed when that session changes: those with data-refresh-url are
// re-fetched through htmx, others get their [data-live-field] children updated in place.
(function () {
  const targets = () => document.querySelectorAll("[data-live-session]");
  const labels = {
    pending: "Pending", starting: "Starting", scan_qr: "Waiting for QR scan", pairing_code: "Waiting for pairing code",
    connected: "Connected", reconnecting: "Reconnecting", stopped: "Stopped", logged_out: "Logged out", failed: "Failed",
  };
  if (!targets().length) return;
  let delay = 500;

  function apply(session) {
    targets().forEach((el) => {
      if (el.dataset.liveSession !== session.id) return;
      if (el.dataset.refreshUrl && window.htmx) {
        window.htmx.ajax("GET", el.dataset.refreshUrl, { target: el, swap: "outerHTML" });
        return;
      }
      el.querySelectorAll("[data-live-field]").forEach((field) => {
        const value = session[field.dataset.liveField];
        if (value === undefined) return;
        field.textContent = field.dataset.liveField === "state" ? labels[value] || value : value === null ? "" : value;
      });
      el.dataset.state = session.state;
    });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/v1/portal`);
    let opened = false;
    socket.onopen = () => { opened = true; delay = 500; document.body.dataset.live = "on"; };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "session.update") apply(message.session);
    };
    socket.onclose = (event) => {
      document.body.dataset.live = "off";
      // 4401: signed out; 4403: no longer a member of this workspace. Reconnecting would be refused again: the page
      // is loaded afresh instead (to the sign-in page, or another workspace), once, if this socket had been let in.
      if (event.code === 4401 || event.code === 4403) {
        if (opened) location.reload();
        return;
      }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  connect();
})();

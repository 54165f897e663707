// Progressive enhancement for the admin pages. Every page works without
// this file: times read in UTC, secrets are selectable text, confirmations
// are a second page, and a reload shows progress. With it: times in the
// viewer's local zone (UTC on hover), copy buttons, confirmations in a
// dialog, and live refresh of running syncs and retrying deliveries.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // localTimes rewrites <time class="ts"> into local time; the title
  // keeps the UTC text the server wrote.
  function localTimes(root) {
    root.querySelectorAll("time.ts[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) { return; }
      var zone = "";
      try {
        zone = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
          .formatToParts(d).filter(function (p) { return p.type === "timeZoneName"; })[0].value;
      } catch (e) { zone = ""; }
      el.textContent = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
        pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + (zone ? "\u00a0" + zone : "");
      el.dataset.local = "1";
    });
  }

  // Copy buttons copy the text of the element they name.
  function copyButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () {
        var el = document.getElementById(b.dataset.copy);
        if (!el) { return; }
        var text = el.textContent.trim();
        var done = function () { b.textContent = "Copied"; b.dataset.copied = "1"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { select(el); });
        } else {
          select(el);
          try { if (document.execCommand("copy")) { done(); } } catch (e) { /* selected: copy by hand */ }
        }
      });
    });
  }

  function select(el) {
    var r = document.createRange();
    r.selectNodeContents(el);
    var s = window.getSelection();
    s.removeAllRanges();
    s.addRange(r);
  }

  // Forms marked data-confirm ask in a dialog first; confirming submits
  // them with confirm=yes, which the server otherwise asks for on a page of
  // its own.
  function confirmations(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        if (f.querySelector("input[name=confirm][value=yes]")) { return; }
        ev.preventDefault();
        var dlg = document.getElementById("confirm-dialog");
        dlg.querySelector("#confirm-question").textContent = f.dataset.confirm;
        dlg.returnValue = "";
        dlg.onclose = function () {
          if (dlg.returnValue !== "yes") { return; }
          var i = document.createElement("input");
          i.type = "hidden"; i.name = "confirm"; i.value = "yes";
          f.appendChild(i);
          f.submit();
        };
        dlg.showModal();
      });
    });
  }

  // Elements with data-refresh="<seconds>" and an id are fetched again
  // from the same URL while the server keeps the attribute on them (while
  // a sync runs or a delivery retries).
  function liveRefresh() {
    document.querySelectorAll("[data-refresh][id]").forEach(function (el) {
      var secs = Math.max(1, parseInt(el.dataset.refresh, 10) || 5);
      var timer = setTimeout(function tick() {
        fetch(location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
          .then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.getElementById(el.id);
            if (!fresh) { return; }
            el.innerHTML = fresh.innerHTML;
            localTimes(el);
            copyButtons(el);
            confirmations(el);
            if (fresh.hasAttribute("data-refresh")) {
              timer = setTimeout(tick, secs * 1000);
            } else {
              el.removeAttribute("data-refresh");
              el.dataset.settled = "1";
            }
          })
          .catch(function () { timer = setTimeout(tick, secs * 4000); });
      }, secs * 1000);
    });
  }

  // Conditional fields (data-show-field/-values, e.g. the settings of one
  // auth mode) follow their controlling field as it changes; the server
  // already hid the ones the current value leaves out.
  function conditionalFields(root) {
    root.querySelectorAll("form").forEach(function (form) {
      var rows = form.querySelectorAll("[data-show-field]:not([data-show-field=''])");
      if (!rows.length) { return; }
      var update = function () {
        rows.forEach(function (row) {
          var ctl = form.elements[row.dataset.showField];
          if (!ctl) { return; }
          row.hidden = row.dataset.showValues.split(" ").indexOf(ctl.value) < 0;
        });
      };
      form.addEventListener("change", update);
    });
  }

  function init() {
    document.documentElement.classList.add("js");
    localTimes(document);
    copyButtons(document);
    confirmations(document);
    liveRefresh();
    conditionalFields(document);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

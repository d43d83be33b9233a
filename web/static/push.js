// Notifications on this device (Web Push), for the inbox's Message settings. The page works
// without it: the buttons start hidden and appear only where the browser can do push.
//
// Hooks for other pages (e.g. an installable inbox): window.GaungPush.enable(),
// .disable(), .state() -> Promise<"on"|"off"|"denied"|"unsupported">, and
// .onNotice(callback) to hear about pushes while a page is open. The endpoints are in
// web/inbox_push.py; the element with [data-push] carries their URLs and the CSRF token.
(function () {
  "use strict";

  var box = document.querySelector("[data-push]");
  var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function sameKey(buffer, base64url) {
    if (!buffer) { return false; }
    var a = new Uint8Array(buffer), b = keyBytes(base64url);
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) { if (a[i] !== b[i]) { return false; } }
    return true;
  }

  // "Chrome · Android": enough for the ASN to tell their devices apart in the list.
  function deviceLabel() {
    var ua = navigator.userAgent;
    var browser = /Edg\//.test(ua) ? "Edge" : /SamsungBrowser/.test(ua) ? "Samsung Internet"
      : /Firefox\//.test(ua) ? "Firefox" : /Chrome\//.test(ua) ? "Chrome"
      : /Safari\//.test(ua) ? "Safari" : "Browser";
    var system = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS"
      : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS"
      : /Linux/.test(ua) ? "Linux" : "";
    return system ? browser + " · " + system : browser;
  }

  function urls() {
    var el = box || document.documentElement;
    return {
      key: el.getAttribute("data-key-url") || "/inbox/push/key",
      subscribe: el.getAttribute("data-subscribe-url") || "/inbox/push/subscriptions",
      unsubscribe: el.getAttribute("data-unsubscribe-url") || "/inbox/push/unsubscribe",
      csrf: el.getAttribute("data-csrf") || "",
    };
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": urls().csrf },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error(data.error || String(response.status)); }
        return data;
      });
    });
  }

  function registration() {
    return navigator.serviceWorker.register("/sw.js", { scope: "/inbox/" }).then(function () {
      return navigator.serviceWorker.ready;
    });
  }

  function enable() {
    if (!supported) { return Promise.reject(new Error("unsupported")); }
    return Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { throw new Error("denied"); }
      return Promise.all([
        registration(),
        fetch(urls().key, { credentials: "same-origin" }).then(function (r) { return r.json(); }),
      ]);
    }).then(function (found) {
      var reg = found[0], key = found[1].public_key;
      return reg.pushManager.getSubscription().then(function (existing) {
        // A subscription made for another key cannot be used by this server: renew it.
        if (existing && !sameKey(existing.options.applicationServerKey, key)) {
          return existing.unsubscribe().then(function () { return null; });
        }
        return existing;
      }).then(function (existing) {
        return existing || reg.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: keyBytes(key),
        });
      });
    }).then(function (subscription) {
      return post(urls().subscribe, { subscription: subscription.toJSON(), label: deviceLabel() });
    });
  }

  function disable() {
    if (!supported) { return Promise.resolve(false); }
    return navigator.serviceWorker.getRegistration("/inbox/").then(function (reg) {
      return reg ? reg.pushManager.getSubscription() : null;
    }).then(function (subscription) {
      if (!subscription) { return false; }
      var endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () {
        return post(urls().unsubscribe, { endpoint: endpoint });
      }).then(function () { return true; });
    });
  }

  function state() {
    if (!supported) { return Promise.resolve("unsupported"); }
    if (Notification.permission === "denied") { return Promise.resolve("denied"); }
    return navigator.serviceWorker.getRegistration("/inbox/").then(function (reg) {
      return reg ? reg.pushManager.getSubscription() : null;
    }).then(function (subscription) { return subscription ? "on" : "off"; });
  }

  function onNotice(callback) {
    if (!("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "gaung-push") { callback(event.data.notice); }
    });
  }

  window.GaungPush = { enable: enable, disable: disable, state: state, onNotice: onNotice };

  if (!box) { return; }
  var on = box.querySelector("[data-push-enable]");
  var off = box.querySelector("[data-push-disable]");
  var status = box.querySelector("[data-push-status]");

  function show(current) {
    var text = status.getAttribute("data-text-" + current);
    status.textContent = text || "";
    on.hidden = !(current === "off" || current === "failed");
    off.hidden = current !== "on";
    box.setAttribute("data-push-state", current);
  }

  state().then(show);
  on.addEventListener("click", function () {
    on.disabled = true;
    enable().then(function () {
      window.location.reload(); // the device list below shows the new device
    }, function (error) {
      on.disabled = false;
      show(error && error.message === "denied" ? "denied"
        : error && error.message === "unsupported" ? "unsupported" : "failed");
    });
  });
  off.addEventListener("click", function () {
    off.disabled = true;
    disable().then(function () { window.location.reload(); }, function () {
      off.disabled = false;
      show("failed");
    });
  });
})();

// The inbox as an installable app (web/pwa.py). Loaded on every /inbox page.
//
// - Registers the service worker (/sw.js) for /inbox, so the assignment list works offline
//   (sw.js keeps the last list seen, network first).
// - The offline copy belongs to one person: the page names its owner (<meta
//   name="gaung-session">, an opaque tag); another tag, a page with none (signed out, the
//   sign-in page) or pressing "Sign out" deletes the copy before anything else happens.
// - On the install guide (/inbox/app): the Android install button appears when Chrome
//   offers to install (beforeinstallprompt); it says when the app is already installed.
(function () {
  "use strict";

  var LIST_CACHE = "gaung-inbox-list";
  var OWNER_KEY = "gaung-inbox-owner";
  var hasCaches = "caches" in window;

  function owner() {
    var meta = document.querySelector('meta[name="gaung-session"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function forget() {
    try { localStorage.removeItem(OWNER_KEY); } catch (e) { /* private mode */ }
    return hasCaches ? caches.delete(LIST_CACHE) : Promise.resolve(false);
  }

  // Keep the list this page's owner sees, and only theirs.
  function claimCopy() {
    var mine = owner();
    var before = null;
    try { before = localStorage.getItem(OWNER_KEY); } catch (e) { /* private mode */ }
    if (!mine) { return forget(); }
    if (before === mine) { return Promise.resolve(); }
    return forget().then(function () {
      try { localStorage.setItem(OWNER_KEY, mine); } catch (e) { /* private mode */ }
      if (!hasCaches || location.pathname.replace(/\/$/, "") !== "/inbox") { return; }
      // The list page just loaded was stored under the previous owner's name: store it again.
      return fetch("/inbox", { credentials: "same-origin", cache: "no-store" }).then(function (response) {
        if (response.ok && !response.redirected) {
          return caches.open(LIST_CACHE).then(function (cache) { return cache.put("/inbox", response); });
        }
      });
    }).catch(function () { /* offline: the next visit tries again */ });
  }

  function watchSignOut() {
    var forms = document.querySelectorAll('form[action="/inbox/logout"]');
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("data-cleared") === "yes") { return; }
        event.preventDefault();
        var go = function () { form.setAttribute("data-cleared", "yes"); form.submit(); };
        // Never keep someone waiting on it: sign out after at most a second either way.
        var timer = setTimeout(go, 1000);
        forget().then(function () { clearTimeout(timer); go(); }, function () { clearTimeout(timer); go(); });
      });
    });
  }

  function register() {
    if (!("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.register("/sw.js", { scope: "/inbox" }).catch(function () {
      /* an old browser or a private window: the inbox works online as before */
    });
  }

  function installButton() {
    var box = document.querySelector("[data-install]");
    if (!box) { return; }
    var button = box.querySelector("button");
    var done = box.querySelector("[data-installed]");
    var standalone = window.matchMedia && window.matchMedia("(display-mode: standalone)").matches;
    if (standalone || navigator.standalone) {
      if (done) { done.hidden = false; }
      return;
    }
    var offered = null;
    window.addEventListener("beforeinstallprompt", function (event) {
      event.preventDefault();
      offered = event;
      if (button) { button.hidden = false; }
    });
    window.addEventListener("appinstalled", function () {
      if (button) { button.hidden = true; }
      if (done) { done.hidden = false; }
    });
    if (button) {
      button.addEventListener("click", function () {
        if (!offered) { return; }
        offered.prompt();
        offered.userChoice.then(function () { offered = null; button.hidden = true; });
      });
    }
  }

  // The kept list, shown without a network, says so (templates/pages/inbox/list.html).
  function offlineNotice() {
    var notice = document.querySelector("[data-offline]");
    if (!notice) { return; }
    var update = function () { notice.hidden = navigator.onLine; };
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    update();
  }

  register();
  offlineNotice();
  claimCopy();
  watchSignOut();
  installButton();
})();

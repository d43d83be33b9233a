// Gaung's service worker: shows the notices Gaung pushes (channels/webpush.py) and opens
// the assignment when one is tapped. Served at /sw.js (web/inbox_push.py) with scope
// /inbox/. The push body is JSON: {title, body, url, tag, urgent}.
/* eslint-env serviceworker */
"use strict";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function readNotice(event) {
  if (!event.data) { return {}; }
  try {
    var notice = event.data.json();
    return notice && typeof notice === "object" ? notice : {};
  } catch (e) {
    return { body: event.data.text() };
  }
}

// Only ever open a page of this site, whatever a push says.
function inboxUrl(url) {
  try {
    var target = new URL(url || "/inbox", self.location.origin);
    return target.origin === self.location.origin ? target.href : self.location.origin + "/inbox";
  } catch (e) {
    return self.location.origin + "/inbox";
  }
}

self.addEventListener("push", function (event) {
  var notice = readNotice(event);
  var options = {
    body: notice.body || "",
    data: { url: inboxUrl(notice.url) },
    requireInteraction: Boolean(notice.urgent),
  };
  if (notice.tag) {
    options.tag = String(notice.tag);
    options.renotify = true; // a newer notice about the same assignment alerts again
  }
  // Open inbox pages hear about it too (GaungPush.onNotice in push.js), once it is shown:
  // a page that looks at the registration's notifications then finds it there.
  event.waitUntil(
    self.registration.showNotification(notice.title || "Gaung", options).then(function () {
      return self.clients.matchAll({ type: "window", includeUncontrolled: true });
    }).then(function (list) {
      list.forEach(function (client) { client.postMessage({ type: "gaung-push", notice: notice }); });
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = inboxUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if (list[i].url === url && "focus" in list[i]) { return list[i].focus(); }
      }
      for (var j = 0; j < list.length; j++) {
        if ("navigate" in list[j] && list[j].url.indexOf(self.location.origin + "/inbox") === 0) {
          return list[j].navigate(url).then(function (client) { return client && client.focus(); });
        }
      }
      return self.clients.openWindow(url);
    })
  );
});

// --- The offline assignment list (web/pwa.py, web/static/pwa.js) --------------------------
// The list page (/inbox) is fetched from the network first; each good answer is kept, and
// when the network is gone the last list seen is shown. Only that page: never an
// assignment page, a form answer or anything of another site. The copy belongs to the person
// signed in: pwa.js deletes it on sign-out and when another person signs in, and a list
// request the server answers with a redirect (signed out) deletes it here.
var LIST_CACHE = "gaung-inbox-list";
var STATIC_CACHE = "gaung-static-v1";
var SHELL_ASSETS = ["/static/gaung.css", "/static/inbox.js", "/static/pwa.js", "/static/push.js",
  "/static/icons/icon-192.png"];

function isList(url) {
  return url.origin === self.location.origin && (url.pathname === "/inbox" || url.pathname === "/inbox/");
}

function listFirstFromNetwork(request) {
  return fetch(request).then(function (response) {
    if (response.type === "opaqueredirect" || response.redirected) {
      // Sent to sign in: whoever owned the copy is signed out.
      return caches.delete(LIST_CACHE).then(function () { return response; });
    }
    if (response.ok && response.type === "basic") {
      var copy = response.clone();
      return caches.open(LIST_CACHE)
        .then(function (cache) { return cache.put("/inbox", copy); })
        .then(function () { return response; }, function () { return response; });
    }
    return response;
  }).catch(function () {
    return caches.open(LIST_CACHE).then(function (cache) { return cache.match("/inbox"); }).then(function (kept) {
      return kept || Response.error();
    });
  });
}

function assetFromNetworkFirst(request) {
  return fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(STATIC_CACHE).then(function (cache) { return cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request, { cacheName: STATIC_CACHE }).then(function (kept) { return kept || Response.error(); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (request.mode === "navigate" && isList(url) && !url.search) {
    event.respondWith(listFirstFromNetwork(request));
  } else if (url.origin === self.location.origin && SHELL_ASSETS.indexOf(url.pathname) !== -1) {
    event.respondWith(assetFromNetworkFirst(request));
  }
});

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
  // Open inbox pages hear about it too (GaungPush.onNotice in push.js).
  var told = self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
    list.forEach(function (client) { client.postMessage({ type: "gaung-push", notice: notice }); });
  });
  event.waitUntil(Promise.all([
    self.registration.showNotification(notice.title || "Gaung", options),
    told,
  ]));
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

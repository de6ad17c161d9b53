/* Optional camera scan for /verify (the page works without it). Uses the browser's own
   BarcodeDetector where it exists; otherwise the button stays hidden. No inline script,
   no third party: the CSP allows only this site's files. */
(function () {
  "use strict";
  var button = document.getElementById("scan-button");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var text = document.getElementById("text");
  var form = document.getElementById("verify-form");
  if (!button || !video || !text || !form || !("BarcodeDetector" in window) ||
      !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  var detector = new window.BarcodeDetector({formats: ["qr_code"]});
  var stream = null;
  var tries = 0;

  function say(message) {
    status.textContent = message;
    status.hidden = false;
  }

  function stop() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    video.hidden = true;
  }

  function look() {
    if (!stream) { return; }
    detector.detect(video).then(function (codes) {
      if (codes.length) {
        text.value = codes[0].rawValue;
        stop();
        form.submit();
        return;
      }
      tries += 1;
      if (tries % 20 === 0) { say(status.getAttribute("data-no-code")); }
      window.setTimeout(look, 250);
    }).catch(function () { window.setTimeout(look, 500); });
  }

  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}})
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        return video.play();
      })
      .then(look)
      .catch(function () { stop(); say(status.getAttribute("data-no-camera")); });
  });
}());

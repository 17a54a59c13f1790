// Turva's one script, loaded from this origin (the CSP allows no other and
// no inline script). Progressive enhancement only: every page works
// without it. It adds passkeys (registering one on the profile page and
// signing in with one), a progress bar to uploads, and a pad to draw
// signatures on (kept as a PNG data URL in the form's hidden field). The browser's WebAuthn answer is posted by a plain
// form to a page route, which decides like the API does; the session
// cookie stays HttpOnly and no token is kept where scripts can read it
// (the CSRF token read here is in the page already).
(() => {
  'use strict';
  const canPasskeys = typeof window.PublicKeyCredential === 'function'
    && typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function';
  const csrf = document.querySelector('meta[name="turva-csrf"]')?.getAttribute('content') || '';

  for (const el of document.querySelectorAll('[data-needs-passkeys]')) {
    if (canPasskeys) el.hidden = false;
  }

  const fail = (form, error) => {
    const out = form.querySelector('[data-passkey-error]');
    if (out) {
      out.textContent = out.dataset.message || String(error);
      out.hidden = false;
    }
  };

  const options = async (url) => {
    const headers = { 'Content-Type': 'application/json' };
    if (csrf) headers['X-CSRF-Token'] = csrf;
    const r = await fetch(url, { method: 'POST', headers, body: '{}', credentials: 'same-origin' });
    if (!r.ok) throw new Error(`${r.status}`);
    return r.json();
  };

  document.addEventListener('submit', async (event) => {
    const form = event.target;
    const kind = form.dataset.passkey;
    if (!kind || !canPasskeys) return;
    event.preventDefault();
    try {
      let credential;
      if (kind === 'second') {
        // The options came with the page (the password step made them).
        const o = JSON.parse(form.dataset.options);
        credential = await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o.publicKey),
        });
        form.querySelector('input[name="passkey"]').value = JSON.stringify(credential.toJSON());
        form.submit();
        return;
      }
      if (kind === 'register') {
        const o = await options('/api/v1/me/mfa/passkeys/start');
        credential = await navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(o.publicKey),
        });
      } else {
        const o = await options('/api/v1/auth/passkey/start');
        credential = await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o.publicKey),
        });
      }
      form.querySelector('input[name="answer"]').value = JSON.stringify(credential.toJSON());
      form.submit();
    } catch (error) {
      fail(form, error);
    }
  });

  // Uploads (forms marked data-upload): the same multipart post, sent by
  // XHR to show its progress. The server answers the redirect that ends
  // it as 200 with Turva-Location (Turva-Navigate: manual), and the page
  // goes there; a refusal's designed page takes this one's place.
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!form.matches('form[data-upload]')) return;
    event.preventDefault();
    const box = form.querySelector('[data-upload-progress]');
    const bar = box.querySelector('progress');
    const status = box.querySelector('[data-upload-status]');
    const button = form.querySelector('button[type="submit"]');
    box.hidden = false;
    bar.value = 0;
    status.textContent = '0 %';
    button.disabled = true;
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Turva-Navigate', 'manual');
    xhr.upload.addEventListener('progress', (e) => {
      if (!e.lengthComputable) return;
      const percent = Math.floor((100 * e.loaded) / e.total);
      bar.value = percent;
      status.textContent = `${percent} %`;
    });
    const stopped = () => {
      button.disabled = false;
      status.textContent = status.dataset.failed;
    };
    xhr.addEventListener('load', () => {
      const to = xhr.getResponseHeader('Turva-Location');
      if (to) {
        window.location.assign(to);
        return;
      }
      // Sent elsewhere (the session ended: the sign-in page): this page
      // again, which leads there and back.
      const answered = xhr.responseURL ? new URL(xhr.responseURL).pathname : '';
      if (answered && answered !== new URL(form.action).pathname) {
        window.location.reload();
        return;
      }
      const page = new DOMParser().parseFromString(xhr.responseText, 'text/html');
      const main = page.querySelector('main');
      if (!main) {
        stopped();
        return;
      }
      document.title = page.title;
      const shown = document.importNode(main, true);
      document.querySelector('main').replaceWith(shown);
      shown.querySelector('h1')?.setAttribute('tabindex', '-1');
      shown.querySelector('h1')?.focus();
    });
    xhr.addEventListener('error', stopped);
    xhr.addEventListener('abort', stopped);
    xhr.send(new FormData(form));
  });

  // Signature pads: strokes drawn with a finger, a pen or the mouse; each
  // stroke's end stores the drawing in the field's hidden input.
  for (const pad of document.querySelectorAll('[data-signature-pad]')) {
    const field = pad.closest('fieldset');
    const image = field.querySelector('[data-signature-image]');
    const shown = field.querySelector('[data-signature-now]');
    const canvas = pad.querySelector('canvas');
    const ink = canvas.getContext('2d');
    pad.hidden = false;
    field.querySelector('[data-signature-nojs]').hidden = true;
    ink.lineWidth = 3;
    ink.lineCap = 'round';
    ink.lineJoin = 'round';
    ink.strokeStyle = '#1b1f24';
    const at = (e) => {
      const box = canvas.getBoundingClientRect();
      return [
        ((e.clientX - box.left) * canvas.width) / box.width,
        ((e.clientY - box.top) * canvas.height) / box.height,
      ];
    };
    // The pointer drawing now (one at a time: a second finger or a palm
    // is ignored), and whether it has drawn anything (a tap has not).
    let drawing = null;
    let moved = false;
    canvas.addEventListener('pointerdown', (e) => {
      if (drawing !== null || (e.pointerType === 'mouse' && e.button !== 0)) return;
      drawing = e.pointerId;
      moved = false;
      canvas.setPointerCapture(e.pointerId);
      ink.beginPath();
      ink.moveTo(...at(e));
      e.preventDefault();
    });
    canvas.addEventListener('pointermove', (e) => {
      if (e.pointerId !== drawing) return;
      ink.lineTo(...at(e));
      ink.stroke();
      moved = true;
    });
    const end = (e) => {
      if (e.pointerId !== drawing) return;
      drawing = null;
      if (!moved) return;
      image.value = canvas.toDataURL('image/png');
      if (shown) shown.hidden = true;
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    // Without a pointer (the keyboard): the typed name written on the pad.
    pad.querySelector('[data-signature-name]').addEventListener('click', () => {
      const name = field.querySelector('input[type="text"]').value.trim();
      if (!name) {
        field.querySelector('input[type="text"]').focus();
        return;
      }
      ink.clearRect(0, 0, canvas.width, canvas.height);
      ink.fillStyle = '#1b1f24';
      ink.font = 'italic 56px "Segoe Script", "Brush Script MT", cursive, serif';
      ink.textBaseline = 'middle';
      ink.fillText(name, 24, canvas.height / 2, canvas.width - 48);
      image.value = canvas.toDataURL('image/png');
      if (shown) shown.hidden = true;
    });
    pad.querySelector('[data-signature-clear]').addEventListener('click', () => {
      ink.clearRect(0, 0, canvas.width, canvas.height);
      image.value = '';
      if (shown) shown.hidden = true;
    });
  }
})();

// Passkey ceremonies for medisac pages (registration and second-factor
// sign-in). Plain ES2020, no dependencies; load it with
// <script src=".../passkey.js" defer></script>.
//
// Contract: a form
//   <form data-passkey="register" (or "login")
//         data-begin="URL" data-finish="URL"
//         data-msg-unsupported="..." data-msg-cancelled="..."
//         data-msg-failed="..." data-msg-exists="...">
//     <input type="hidden" name="csrf" value="...">   (sent as X-CSRF-Token too)
//     <input name="name">                              (register only, optional)
//     <button type="submit">...</button>
//     <p data-passkey-status role="alert" hidden></p>
//   </form>
// On submit the script POSTs the form's fields as JSON to data-begin and
// expects {"challengeId": "...", "options": {"publicKey": {...}}}; it runs
// navigator.credentials.create/get, then POSTs the form's fields plus
// {"challengeId": "...", "credential": PublicKeyCredential as JSON} to
// data-finish and expects {"redirect": "URL"} (or reloads the page when no
// redirect is given). A failed response may carry {"error": {"message": "..."}},
// {"error": "..."} or {"message": "..."}, which is shown in the status
// element. Without JavaScript or passkey support the form shows
// data-msg-unsupported and nothing is sent.
(() => {
  "use strict";

  const toB64url = (buf) => {
    const bytes = new Uint8Array(buf);
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  const fromB64url = (str) => {
    const b64 = str.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  };

  const descriptors = (list) =>
    (list || []).map((c) => Object.assign({}, c, { id: fromB64url(c.id) }));

  const creationOptions = (pk) => {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(pk);
    }
    return Object.assign({}, pk, {
      challenge: fromB64url(pk.challenge),
      user: Object.assign({}, pk.user, { id: fromB64url(pk.user.id) }),
      excludeCredentials: descriptors(pk.excludeCredentials),
    });
  };

  const requestOptions = (pk) => {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(pk);
    }
    return Object.assign({}, pk, {
      challenge: fromB64url(pk.challenge),
      allowCredentials: descriptors(pk.allowCredentials),
    });
  };

  const credentialJSON = (cred) => {
    if (typeof cred.toJSON === "function") {
      try {
        return cred.toJSON();
      } catch (_) {
        // Fall through to the manual form below.
      }
    }
    const r = cred.response;
    const response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      if (typeof r.getTransports === "function") response.transports = r.getTransports();
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      response,
      clientExtensionResults:
        typeof cred.getClientExtensionResults === "function" ? cred.getClientExtensionResults() : {},
    };
  };

  const fields = (form) => {
    const out = {};
    new FormData(form).forEach((v, k) => {
      if (typeof v === "string") out[k] = v;
    });
    return out;
  };

  class ServerError extends Error {}

  const post = async (url, body) => {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": body.csrf || "",
      },
      body: JSON.stringify(body),
    });
    let data = {};
    try {
      data = await res.json();
    } catch (_) {
      data = {};
    }
    if (!res.ok) {
      const e = data.error;
      const msg = (e && typeof e === "object" ? e.message : e) || data.message || "";
      throw new ServerError(msg);
    }
    return data;
  };

  const show = (form, text) => {
    const el = form.querySelector("[data-passkey-status]");
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  };

  const run = async (form) => {
    const mode = form.dataset.passkey;
    const base = fields(form);
    const begun = await post(form.dataset.begin, base);
    const pk = begun.options && begun.options.publicKey;
    if (!pk || !begun.challengeId) throw new ServerError("");
    const cred =
      mode === "register"
        ? await navigator.credentials.create({ publicKey: creationOptions(pk) })
        : await navigator.credentials.get({ publicKey: requestOptions(pk) });
    if (!cred) throw new DOMException("no credential", "NotAllowedError");
    const done = await post(
      form.dataset.finish,
      Object.assign({}, base, { challengeId: begun.challengeId, credential: credentialJSON(cred) }),
    );
    if (done.redirect) window.location.assign(done.redirect);
    else window.location.reload();
  };

  const attach = (form) => {
    const msg = (name) => form.dataset["msg" + name] || "";
    if (!window.PublicKeyCredential || !navigator.credentials) {
      show(form, msg("Unsupported"));
      form.querySelectorAll("button, input[type=submit]").forEach((b) => {
        b.disabled = true;
      });
      return;
    }
    let busy = false;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (busy) return;
      busy = true;
      const buttons = form.querySelectorAll("button, input[type=submit]");
      buttons.forEach((b) => {
        b.disabled = true;
      });
      show(form, "");
      try {
        await run(form);
      } catch (err) {
        if (err instanceof ServerError) {
          show(form, err.message || msg("Failed"));
        } else if (err && (err.name === "NotAllowedError" || err.name === "AbortError")) {
          show(form, msg("Cancelled"));
        } else if (err && err.name === "InvalidStateError") {
          show(form, msg("Exists") || msg("Failed"));
        } else {
          show(form, msg("Failed"));
        }
      } finally {
        busy = false;
        buttons.forEach((b) => {
          b.disabled = false;
        });
      }
    });
  };

  const start = () => document.querySelectorAll("form[data-passkey]").forEach(attach);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

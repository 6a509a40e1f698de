"""C2PA manifests through ``c2pa-python`` (the CAI's own library), offline.

No manifest is fetched from a remote URL and no certificate status (OCSP) is
asked for: the settings below turn both off. Signers are checked against the
trust anchors in the PEM file named by ``FAKELENS_C2PA_TRUST_ANCHORS`` (none by
default, as nothing is downloaded): a manifest whose signature and hashes check
out but whose signer is not anchored there is *unverified* (``valid: None``),
not a failure; one whose hashes no longer match (the pixels were edited after
signing) or whose signature is broken is *invalid* (``valid: False``).
"""

from __future__ import annotations

import json
import os
import threading
from typing import BinaryIO

from .evidence import AI_EDITED, AI_GENERATED, CAMERA_CAPTURE, NO_CLAIM, EvidenceItem

TRUST_ANCHORS_ENV = "FAKELENS_C2PA_TRUST_ANCHORS"

#: IPTC digital source types (the last part of http://cv.iptc.org/newscodes/digitalsourcetype/...) -> claim.
#: ``algorithmicallyEnhanced`` (a capture denoised or sharpened, as every phone does) is not an AI claim.
SOURCE_TYPE_CLAIMS = {
    "trainedAlgorithmicMedia": AI_GENERATED,
    "algorithmicMedia": AI_GENERATED,
    "dataDrivenMedia": AI_GENERATED,
    "compositeWithTrainedAlgorithmicMedia": AI_EDITED,
    "compositeSynthetic": AI_EDITED,
    "digitalCapture": CAMERA_CAPTURE,
    "computationalCapture": CAMERA_CAPTURE,
    "negativeFilm": CAMERA_CAPTURE,
    "positiveFilm": CAMERA_CAPTURE,
    "compositeCapture": CAMERA_CAPTURE,
}
#: Strength of a claim when a manifest holds several actions: the strongest one speaks for it.
_RANK = {AI_GENERATED: 3, AI_EDITED: 2, CAMERA_CAPTURE: 1, NO_CLAIM: 0}
#: Failure codes that only say the signer (or time stamp) is outside the trust list: unverified, not broken.
TRUST_ONLY_CODES = frozenset(
    {
        "signingCredential.untrusted",
        "timeStamp.untrusted",
        "signingCredential.ocsp.skipped",
        "signingCredential.ocsp.inaccessible",
        "timeStamp.mismatch",
    }
)

_local = threading.local()


def source_type_claim(value: str | None) -> tuple[str, str]:
    """(claim, IPTC term) for a digitalSourceType URI or bare term."""
    term = str(value or "").strip().rstrip("/").rsplit("/", 1)[-1]
    return SOURCE_TYPE_CLAIMS.get(term, NO_CLAIM), term


def _settings() -> dict:
    settings: dict = {
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": True},
        "core": {"allowed_network_hosts": []},
    }
    anchors = os.environ.get(TRUST_ANCHORS_ENV)
    if anchors:
        with open(anchors, encoding="utf-8") as fh:
            settings["trust"] = {"trust_anchors": fh.read()}
    return settings


def _context():
    """A c2pa Context per thread (and per trust-anchor setting), built once."""
    import c2pa

    key = os.environ.get(TRUST_ANCHORS_ENV)
    cached = getattr(_local, "context", None)
    if cached is None or cached[0] != key:
        try:
            context = c2pa.Context.from_dict(_settings())
        except c2pa.C2paError:  # an allowed_network_hosts this library version does not know: the verify switches suffice
            settings = _settings()
            settings.pop("core")
            context = c2pa.Context.from_dict(settings)
        _local.context = cached = (key, context)
    return cached[1]


def read_c2pa(fh: BinaryIO, mime: str | None) -> tuple[list[EvidenceItem], list[str]]:
    """The evidence of the C2PA manifest store in ``fh``: one item for the active manifest (none when absent)."""
    try:
        import c2pa
    except ImportError:
        return [], ["a C2PA manifest is present but c2pa-python is not installed: it was not read"]
    fh.seek(0)
    try:
        with c2pa.Reader(mime, fh, context=_context()) as reader:
            store = json.loads(reader.json())
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
        return _evidence(store, state, results)
    except c2pa.C2paError.ManifestNotFound:
        return [], ["the file has a C2PA (JUMBF) block but no manifest could be found in it: it is ignored"]
    except (c2pa.C2paError, ValueError, OSError, RecursionError, KeyError, TypeError, AttributeError) as exc:
        # the library's own refusals (a cyclic ingredient, bad JUMBF), and JSON of an unexpected shape
        message = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return (
            [EvidenceItem("c2pa", NO_CLAIM, f"unreadable C2PA manifest: {message}", False, "unreadable")],
            [f"the C2PA manifest could not be read ({message}): it is ignored"],
        )


def _evidence(store: dict, state: str | None, results: dict) -> tuple[list[EvidenceItem], list[str]]:
    manifests = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest") or "")
    if not isinstance(active, dict):
        return (
            [EvidenceItem("c2pa", NO_CLAIM, "C2PA manifest store without an active manifest", False, "no active manifest")],
            ["the C2PA manifest store has no active manifest: it is ignored"],
        )
    claim, actions = _manifest_claim(active)
    generator = _generator(active)
    parts = [f"claim generator {generator}" if generator else "no claim generator"]
    parts += actions
    if _RANK[claim] < _RANK[AI_EDITED]:  # an AI ingredient makes the whole an AI edit
        for label, other in manifests.items():
            if other is not active and isinstance(other, dict) and _manifest_claim(other)[0] in (AI_GENERATED, AI_EDITED):
                claim = AI_EDITED
                parts.append(f"ingredient made with AI ({_generator(other) or label})")
                break
    failures = [f.get("code", "") for f in (results.get("activeManifest") or {}).get("failure", []) if isinstance(f, dict)]
    warnings: list[str] = []
    if state == "Trusted":
        valid, status = True, "signature valid, signer on the trust list"
    elif state == "Invalid" and not set(failures) <= TRUST_ONLY_CODES:
        broken = [c for c in failures if c not in TRUST_ONLY_CODES]
        valid, status = False, f"INVALID ({', '.join(broken[:4])})"
        warnings.append(
            f"the C2PA manifest is invalid ({', '.join(broken[:4])}): the image changed after signing or the "
            "signature is broken, so its claims are not trusted"
        )
    else:
        signer = (active.get("signature_info") or {}).get("issuer") or "unknown"
        valid, status = None, f"signature valid, signer ({signer}) not on the trust list: unverified"
    parts.append(status)
    return [EvidenceItem("c2pa", claim, "; ".join(parts), valid, _short_name(generator))], warnings


def _manifest_claim(manifest: dict) -> tuple[str, list[str]]:
    """The strongest claim of a manifest's ``c2pa.actions`` and a note per action that has a source type or agent."""
    claim, notes = NO_CLAIM, []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict) or not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if not isinstance(action, dict):
                continue
            found, term = source_type_claim(action.get("digitalSourceType"))
            agent = action.get("softwareAgent")
            agent = agent.get("name") if isinstance(agent, dict) else agent
            note = str(action.get("action", "action"))
            if term:
                note += f" {term}"
            if agent:
                note += f" by softwareAgent {agent}"
            if term or agent:
                notes.append(note)
            if _RANK[found] > _RANK[claim]:
                claim = found
    return claim, notes[:6]


def _generator(manifest: dict) -> str:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict) and info[0].get("name"):
        return " ".join(str(info[0][k]) for k in ("name", "version") if info[0].get(k))
    return str(manifest.get("claim_generator") or "")


def _short_name(generator: str) -> str:
    name = generator.split(" ")[0].split("/")[0]
    return "".join(ch for ch in name if ch not in ",;()\n")[:40]

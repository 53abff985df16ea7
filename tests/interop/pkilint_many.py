"""Lints many certificates in one process with the validators of pkilint's `lint_pkix_cert lint`
(pkilint/bin/lint_pkix_cert.py), so a test over a few hundred certs does not start Python a few
hundred times. Usage: pkilint_many.py SEVERITY FILE...; prints one JSON object per file:
{"file": ..., "results": <what `lint_pkix_cert lint -f JSON -s SEVERITY FILE` prints>}.
tests/it/lint_pkilint.rs also runs `lint_pkix_cert` itself on some certs and checks both agree."""

import json
import sys

from pkilint import loader, report, validation
from pkilint.pkix import certificate, name, extension


def main(argv):
    severity = validation.ValidationFindingSeverity[argv[0]]
    doc_validator = certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(
            name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS
        ),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )
    load = loader.RFC5280CertificateDocumentLoader().get_file_loader_func(
        loader.DocumentFormat.DETECT
    )
    for path in argv[1:]:
        with open(path, "rb") as f:
            cert = load(f, path)
        results = doc_validator.validate(cert.root)
        out = json.loads(report.ReportGeneratorJson(results, severity).generate())
        print(json.dumps({"file": path, "results": out["results"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

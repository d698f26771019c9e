package restic

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
)

// Stash's storage Secret keys whose content restic reads from a file, and
// the variables that point restic at those files.
const (
	// EnvCACertData is the PEM CA of a TLS endpoint (S3, rest-server),
	// given to restic as --cacert (EnvCACert).
	EnvCACertData = "CA_CERT_DATA"
	// EnvGoogleServiceAccountJSONKey is a GCS service account's JSON key
	// (the key file's content), given to restic as the file
	// EnvGoogleCredentials.
	EnvGoogleServiceAccountJSONKey = "GOOGLE_SERVICE_ACCOUNT_JSON_KEY"
	// EnvCACert is restic's --cacert as a variable.
	EnvCACert = "RESTIC_CACERT"
	// EnvGoogleCredentials is the path Google's client library reads the
	// key from.
	EnvGoogleCredentials = "GOOGLE_APPLICATION_CREDENTIALS"
)

// CredentialFiles writes the credentials of environ that restic reads from
// files (CA_CERT_DATA, GOOGLE_SERVICE_ACCOUNT_JSON_KEY) into 0600 files in
// a new 0700 directory under dir, the step's scratch directory ("": TMPDIR), and
// returns environ without those values and with RESTIC_CACERT and
// GOOGLE_APPLICATION_CREDENTIALS naming the files. cleanup removes the
// files; call it when restic is done. A value that is not what its key
// says (no PEM certificate, not JSON) is a KindRepositoryConfig error
// naming the key, never the value; nothing is left behind then.
func CredentialFiles(environ []string, dir string) (out []string, cleanup func(), err error) {
	ca, google := lookupEnv(environ, EnvCACertData), lookupEnv(environ, EnvGoogleServiceAccountJSONKey)
	out = withoutKeys(environ, EnvCACertData, EnvGoogleServiceAccountJSONKey)
	cleanup = func() {}
	if ca == "" && google == "" {
		return out, cleanup, nil
	}
	if ca != "" {
		if err := checkPEMCertificates(ca); err != nil {
			return nil, nil, err
		}
	}
	if google != "" && !json.Valid([]byte(google)) {
		return nil, nil, configError(EnvGoogleServiceAccountJSONKey + " of the storage Secret is not JSON: it must hold the service account key file's content, not its path")
	}
	dir, err = os.MkdirTemp(dir, "stashflow-credentials-")
	if err != nil {
		return nil, nil, configError("credential files: " + err.Error())
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	for _, f := range []struct{ value, file, env string }{
		{ca, "ca.crt", EnvCACert},
		{google, "gcs-key.json", EnvGoogleCredentials},
	} {
		if f.value == "" {
			continue
		}
		p := filepath.Join(dir, f.file)
		if err := os.WriteFile(p, []byte(f.value), 0o600); err != nil {
			cleanup()
			return nil, nil, configError("credential files: " + err.Error())
		}
		out = append(withoutKeys(out, f.env), f.env+"="+p)
	}
	return out, cleanup, nil
}

func configError(msg string) *Error {
	return &Error{Kind: KindRepositoryConfig, Command: "setup", Message: msg}
}

// checkPEMCertificates says whether s holds PEM certificates and only
// those, each one parseable.
func checkPEMCertificates(s string) error {
	rest, n := []byte(s), 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return configError(EnvCACertData + " of the storage Secret holds a PEM " + b.Type + " block: it must hold only CA certificates")
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return configError(EnvCACertData + " of the storage Secret holds a certificate that does not parse: " + err.Error())
		}
		n++
	}
	if n == 0 || strings.TrimSpace(string(rest)) != "" {
		return configError(EnvCACertData + " of the storage Secret is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	return nil
}

// withoutKeys is environ without the variables named keys.
func withoutKeys(environ []string, keys ...string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, key := range keys {
			drop = drop || k == key
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

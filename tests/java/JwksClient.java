// A JWKS client with nothing but the JDK (tests/it/serve_online.rs): fetch the JWKS over HTTPS
// trusting only the truststore given, rebuild the public key of the token's `kid` from the JWK
// (EC P-256 / P-384 / P-521 or RSA), and verify the token's signature and expiry.
// Usage: java JwksClient URL TRUSTSTORE.p12 STOREPASS TOKEN   -> prints "OK kid=..." or exits 1.

import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.AlgorithmParameters;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class JwksClient {
    static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        return m.find() ? m.group(1) : null;
    }

    static long number(String json, String name) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\"\\s*:\\s*(\\d+)").matcher(json);
        if (!m.find()) throw new IllegalArgumentException("no " + name + " claim");
        return Long.parseLong(m.group(1));
    }

    static byte[] b64u(String s) {
        return Base64.getUrlDecoder().decode(s);
    }

    // JOSE signs ECDSA as r||s; java.security.Signature wants the DER SEQUENCE { r, s }.
    static byte[] joseToDer(byte[] rs) {
        int n = rs.length / 2;
        byte[] r = new BigInteger(1, java.util.Arrays.copyOfRange(rs, 0, n)).toByteArray();
        byte[] s = new BigInteger(1, java.util.Arrays.copyOfRange(rs, n, rs.length)).toByteArray();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(2);
        body.write(r.length);
        body.write(r, 0, r.length);
        body.write(2);
        body.write(s.length);
        body.write(s, 0, s.length);
        byte[] b = body.toByteArray();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x30);
        if (b.length > 127) out.write(0x81);
        out.write(b.length);
        out.write(b, 0, b.length);
        return out.toByteArray();
    }

    public static void main(String[] args) throws Exception {
        String url = args[0], store = args[1], pass = args[2], token = args[3].trim();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(store)) {
            ks.load(in, pass.toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        HttpsURLConnection conn = (HttpsURLConnection) new URL(url).openConnection();
        conn.setSSLSocketFactory(ctx.getSocketFactory());
        if (conn.getResponseCode() != 200) throw new IllegalStateException("HTTP " + conn.getResponseCode());
        String jwks;
        try (InputStream in = conn.getInputStream()) {
            jwks = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }

        String[] parts = token.split("\\.");
        String header = new String(b64u(parts[0]), StandardCharsets.UTF_8);
        String payload = new String(b64u(parts[1]), StandardCharsets.UTF_8);
        String kid = field(header, "kid"), alg = field(header, "alg");
        String jwk = null;
        // Each key is a flat object (x5c is an array of strings): the innermost braces.
        Matcher keys = Pattern.compile("\\{[^{}]*\\}").matcher(jwks);
        while (keys.find()) {
            if (kid.equals(field(keys.group(), "kid"))) jwk = keys.group();
        }
        if (jwk == null) throw new IllegalStateException("no key with kid " + kid + " in the JWKS");

        PublicKey key;
        String sigAlg;
        byte[] sig = b64u(parts[2]);
        if ("EC".equals(field(jwk, "kty"))) {
            String crv = field(jwk, "crv");
            String curve = crv.equals("P-256") ? "secp256r1" : crv.equals("P-384") ? "secp384r1" : "secp521r1";
            AlgorithmParameters params = AlgorithmParameters.getInstance("EC");
            params.init(new ECGenParameterSpec(curve));
            ECParameterSpec spec = params.getParameterSpec(ECParameterSpec.class);
            ECPoint point = new ECPoint(new BigInteger(1, b64u(field(jwk, "x"))), new BigInteger(1, b64u(field(jwk, "y"))));
            key = KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(point, spec));
            sigAlg = alg.equals("ES256") ? "SHA256withECDSA" : alg.equals("ES384") ? "SHA384withECDSA" : "SHA512withECDSA";
            sig = joseToDer(sig);
        } else {
            key = KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(
                new BigInteger(1, b64u(field(jwk, "n"))), new BigInteger(1, b64u(field(jwk, "e")))));
            sigAlg = "SHA256withRSA";
        }
        Signature v = Signature.getInstance(sigAlg);
        v.initVerify(key);
        v.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
        if (!v.verify(sig)) {
            System.out.println("BAD signature");
            System.exit(1);
        }
        if (number(payload, "exp") <= System.currentTimeMillis() / 1000) {
            System.out.println("EXPIRED");
            System.exit(1);
        }
        System.out.println("OK kid=" + kid);
    }
}

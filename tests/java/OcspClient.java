// A TLS client with nothing but the JDK that checks the server's chain for revocation over OCSP
// (tests/it/serve_online.rs), as Canton does with -Dcom.sun.net.ssl.checkRevocation=true
// -Docsp.enable=true. The OCSP URL is given (ocsp.responderURL) instead of read from the certs.
// Usage: java OcspClient URL TRUSTSTORE.p12 STOREPASS OCSP_URL   -> prints "OK" or "REFUSED: why".

import java.io.FileInputStream;
import java.io.InputStream;
import java.net.URL;
import java.security.KeyStore;
import java.security.Security;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.X509CertSelector;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;

public class OcspClient {
    public static void main(String[] args) throws Exception {
        String url = args[0], store = args[1], pass = args[2], ocsp = args[3];
        Security.setProperty("ocsp.enable", "true");
        Security.setProperty("ocsp.responderURL", ocsp);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(store)) {
            ks.load(in, pass.toCharArray());
        }
        PKIXBuilderParameters params = new PKIXBuilderParameters(ks, new X509CertSelector());
        params.setRevocationEnabled(true);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(new CertPathTrustManagerParameters(params));
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        HttpsURLConnection conn = (HttpsURLConnection) new URL(url).openConnection();
        conn.setSSLSocketFactory(ctx.getSocketFactory());
        try {
            int code = conn.getResponseCode();
            System.out.println(code == 200 ? "OK" : "HTTP " + code);
        } catch (SSLHandshakeException e) {
            Throwable t = e;
            while (t.getCause() != null) t = t.getCause();
            System.out.println("REFUSED: " + t.getMessage());
        }
    }
}

// A client-credentials client with nothing but the JDK (tests/it/token_endpoint.rs), as
// docs/tokens-endpoint.md shows it: java.net.http over TLS trusting only the org's truststore,
// client_secret_basic, a form body. Prints the access_token, or the status and body and exits 1.
// Usage: java TokenClient TOKEN_URL TRUSTSTORE.p12 STOREPASS CLIENT_ID SECRET

import java.io.FileInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class TokenClient {
    public static void main(String[] a) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        try (FileInputStream in = new FileInputStream(a[1])) {
            ts.load(in, a[2].toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ts);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, tmf.getTrustManagers(), null);
        HttpClient http = HttpClient.newBuilder().sslContext(tls).build();
        String basic = Base64.getEncoder()
                .encodeToString((a[3] + ":" + a[4]).getBytes(StandardCharsets.UTF_8));
        HttpRequest req = HttpRequest.newBuilder(URI.create(a[0]))
                .header("Authorization", "Basic " + basic)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("grant_type=client_credentials"))
                .build();
        HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
        Matcher m = Pattern.compile("\"access_token\"\\s*:\\s*\"([^\"]+)\"").matcher(r.body());
        if (r.statusCode() != 200 || !m.find()) {
            System.out.println(r.statusCode() + " " + r.body());
            System.exit(1);
        }
        System.out.println(m.group(1));
    }
}

// A mutual-TLS handshake between a JSSE server and a JSSE client in one JVM, with nothing but
// the Java standard library: the keystores and truststores are the PKCS#12 files hapki writes.
// Used by tests/it/fitin_p12.rs.
//
//   java MtlsPair SERVER.p12 SERVER_PASSWORD CLIENT.p12 CLIENT_PASSWORD TRUSTSTORE.p12 HOST
//
// The server requires a client cert; both sides trust TRUSTSTORE.p12 (password changeit); the
// client checks that the server's cert names HOST (it connects to 127.0.0.1 under that name).
// Prints "OK <client subject as the server saw it>" and exits 0, or "REFUSED <reason>" and exits 1.

import java.io.*;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.util.concurrent.*;
import javax.net.ssl.*;

public class MtlsPair {
    static SSLContext context(String keystore, String password, String truststore) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(keystore)) {
            ks.load(in, password.toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, password.toCharArray());
        KeyStore ts = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(truststore)) {
            ts.load(in, "changeit".toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }

    public static void main(String[] a) throws Exception {
        SSLContext server = context(a[0], a[1], a[4]);
        SSLContext client = context(a[2], a[3], a[4]);
        String host = a[5];
        SSLServerSocket ss = (SSLServerSocket) server.getServerSocketFactory()
            .createServerSocket(0, 1, InetAddress.getLoopbackAddress());
        ss.setNeedClientAuth(true);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        Future<String> served = pool.submit(() -> {
            try (SSLSocket s = (SSLSocket) ss.accept()) {
                s.startHandshake();
                String peer = s.getSession().getPeerPrincipal().getName();
                BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                r.readLine();
                Writer w = new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8);
                w.write(peer + "\n");
                w.flush();
                return peer;
            }
        });
        // A TCP connection to loopback, layered with TLS under HOST: JSSE checks the server's
        // cert against the name a layered socket is made for (no DNS needed).
        Socket tcp = new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort());
        try (SSLSocket c = (SSLSocket) client.getSocketFactory()
                .createSocket(tcp, host, ss.getLocalPort(), true)) {
            SSLParameters p = c.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            c.setSSLParameters(p);
            c.startHandshake();
            Writer w = new OutputStreamWriter(c.getOutputStream(), StandardCharsets.UTF_8);
            w.write("hello\n");
            w.flush();
            BufferedReader r = new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8));
            String echoed = r.readLine();
            String peer = served.get(10, TimeUnit.SECONDS);
            if (echoed == null || !echoed.equals(peer)) {
                throw new IOException("the server closed the connection");
            }
            System.out.println("OK " + peer);
            System.exit(0);
        } catch (Exception e) {
            String side = "";
            try {
                served.get(10, TimeUnit.SECONDS);
            } catch (Exception se) {
                side = " (server: " + se.getCause() + ")";
            }
            System.out.println("REFUSED " + e + side);
            System.exit(1);
        }
    }
}

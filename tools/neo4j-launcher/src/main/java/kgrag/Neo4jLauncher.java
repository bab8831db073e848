package kgrag;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/**
 * Starts a real Neo4j (in-process, from neo4j-harness) with Bolt on 127.0.0.1:PORT and
 * authentication off, writes its Bolt URI to READY_FILE once it accepts connections, and
 * runs until the process is stopped. Usage: Neo4jLauncher PORT WORK_DIR READY_FILE
 */
public final class Neo4jLauncher {
    private Neo4jLauncher() {}

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args.length > 0 ? args[0] : "7687");
        Path work = Path.of(args.length > 1 ? args[1] : "neo4j-work");
        Path ready = Path.of(args.length > 2 ? args[2] : "neo4j.ready");
        Files.createDirectories(work);
        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(work)
                .withDisabledServer()
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(neo4j::close));
        Files.writeString(ready, neo4j.boltURI().toString());
        System.out.println("neo4j ready at " + neo4j.boltURI());
        new CountDownLatch(1).await();
    }
}

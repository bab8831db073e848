package kgrag;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/**
 * Starts a real Neo4j with Bolt on 127.0.0.1:PORT and authentication off, writes its Bolt
 * URI to READY_FILE once it accepts connections, and runs until the process is stopped.
 *
 * <p>Usage: Neo4jLauncher PORT WORK_DIR READY_FILE [HOME]. Without HOME: a fresh in-process
 * Neo4j from neo4j-harness in a new folder under WORK_DIR. With HOME: the DBMS whose home is
 * HOME (data in HOME/data, the layout neo4j-admin writes), e.g. after
 * {@code neo4j-admin database import full} into it (see the {@code admin} script).
 */
public final class Neo4jLauncher {
    private Neo4jLauncher() {}

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args.length > 0 ? args[0] : "7687");
        Path work = Path.of(args.length > 1 ? args[1] : "neo4j-work");
        Path ready = Path.of(args.length > 2 ? args[2] : "neo4j.ready");
        Files.createDirectories(work);
        SocketAddress bolt = new SocketAddress("127.0.0.1", port);
        String uri = "bolt://127.0.0.1:" + port;
        if (args.length > 3) {
            DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(Path.of(args[3]))
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, bolt)
                    .setConfig(GraphDatabaseSettings.auth_enabled, false)
                    .build();
            dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME); // fails if it cannot start
            Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown));
        } else {
            Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(work)
                    .withDisabledServer()
                    .withConfig(BoltConnector.enabled, true)
                    .withConfig(BoltConnector.listen_address, bolt)
                    .withConfig(GraphDatabaseSettings.auth_enabled, false)
                    .build();
            Runtime.getRuntime().addShutdownHook(new Thread(neo4j::close));
            uri = neo4j.boltURI().toString();
        }
        Files.writeString(ready, uri);
        System.out.println("neo4j ready at " + uri);
        new CountDownLatch(1).await();
    }
}

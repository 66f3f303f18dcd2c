// Runs the MobilityData GTFS validator (gtfs-validator-main) on one feed, as its command-line
// tool does: java Validate FEED.zip OUTPUT_DIR YYYY-MM-DD. The report is OUTPUT_DIR/report.json
// (and report.html, system_errors.json); the exit status is 0 when the run completed, whatever
// it found. Country VN; no check for a newer validator version (no network but Maven Central).
import java.nio.file.Path;
import java.time.LocalDate;
import org.mobilitydata.gtfsvalidator.input.CountryCode;
import org.mobilitydata.gtfsvalidator.runner.ApplicationType;
import org.mobilitydata.gtfsvalidator.runner.ValidationRunner;
import org.mobilitydata.gtfsvalidator.runner.ValidationRunnerConfig;
import org.mobilitydata.gtfsvalidator.util.VersionResolver;

public final class Validate {
  public static void main(String[] args) {
    if (args.length != 3) {
      System.err.println("usage: Validate FEED.zip OUTPUT_DIR YYYY-MM-DD");
      System.exit(2);
    }
    ValidationRunnerConfig config =
        ValidationRunnerConfig.builder()
            .setGtfsSource(Path.of(args[0]).toAbsolutePath().toUri())
            .setOutputDirectory(Path.of(args[1]))
            .setCountryCode(CountryCode.forStringOrUnknown("VN"))
            .setDateForValidation(LocalDate.parse(args[2]))
            .setNumThreads(2)
            .setPrettyJson(true)
            .setSkipValidatorUpdate(true)
            .build();
    ValidationRunner.Status status = new ValidationRunner(new VersionResolver(ApplicationType.CLI)).run(config);
    System.exit(status == ValidationRunner.Status.SUCCESS ? 0 : 1);
  }
}

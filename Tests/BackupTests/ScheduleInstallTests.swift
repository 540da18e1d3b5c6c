import Foundation
import Testing
@testable import Backup

/// `schedule install`: a systemd user service running this executable and an hourly timer.
@Suite struct ScheduleInstallTests {
    @Test func installPrintShowsTheServiceRunningThisExecutableAndAnHourlyPersistentTimer() {
        let units = BackupScheduleSystemd(executable: "/opt/nimbus/bin/nimbus", schedulePath: "/home/u/.config/nimbus/backup-schedule.json",
                                          environment: ["HOME": "/home/u"])
        let text = units.printed
        #expect(text.contains("# /home/u/.config/systemd/user/nimbus-backup.service\n"))
        #expect(text.contains("# /home/u/.config/systemd/user/nimbus-backup.timer\n"))
        #expect(text.contains("\nType=oneshot\n"))
        #expect(text.contains("\nExecStart=/opt/nimbus/bin/nimbus backup schedule run --schedule /home/u/.config/nimbus/backup-schedule.json\n"))
        #expect(text.contains("\nEnvironmentFile=-%h/.config/nimbus/backup.env\n"))
        #expect(text.contains("\nOnCalendar=hourly\nPersistent=true\n"))
        #expect(text.contains("\nWantedBy=timers.target\n"))
        #expect(BackupScheduleSystemd.enableCommand == "systemctl --user daemon-reload && systemctl --user enable --now nimbus-backup.timer")
    }

    @Test func installWritesBothUnitsUnderXDGConfigHomeAndQuotesOddPaths() throws {
        let f = try ScheduleFixture()
        let units = BackupScheduleSystemd(executable: "/opt/my apps/nimbus", schedulePath: "/s/100%.json",
                                          environment: ["HOME": "/home/u", "XDG_CONFIG_HOME": "\(f.root)/config"])
        #expect(units.service.contains("ExecStart=\"/opt/my apps/nimbus\" backup schedule run --schedule /s/100%%.json\n"))
        #expect(units.service.contains("EnvironmentFile=-\(f.root)/config/nimbus/backup.env\n"))
        let paths = try units.install()
        #expect(paths == ["\(f.root)/config/systemd/user/nimbus-backup.service", "\(f.root)/config/systemd/user/nimbus-backup.timer"])
        #expect(try String(contentsOfFile: paths[0], encoding: .utf8) == units.service)
        #expect(try String(contentsOfFile: paths[1], encoding: .utf8) == units.timer)
    }
}

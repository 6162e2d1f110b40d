# The README's scale-out over PowerShell remoting, run for real: two OpenSSH servers on localhost are two "machines"
# (each its own home folder, so its own module path and PSResource repository list), reached with New-PSSession
# -HostName and key authentication through the `powershell` subsystem; each installs the module from the package
# build.ps1 wrote. The README's code blocks are run as printed (/share → a test folder).
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'ScaleOut.Common.ps1')
    $script:PackageStage = $env:WUERSTCHEN_TEST_PACKAGE
    $script:Servers = @()
    $script:Machines = @()

    # the one reason to skip: no OpenSSH server to start (build.ps1 -Task Test installs Debian's openssh-server as root)
    $script:Sshd = @('/usr/sbin/sshd', (Get-Command sshd -CommandType Application -ErrorAction Ignore).Source) |
        Where-Object { $_ -and (Test-Path -LiteralPath $_) } | Select-Object -First 1
    $script:NoSsh = if ($IsWindows) { 'this test starts OpenSSH servers the Linux/macOS way (sshd -f, a shell-script subsystem)' }
    elseif (-not $Sshd) { 'no OpenSSH server (sshd) here: install openssh-server (build.ps1 -Task Test does so as root with apt-get)' }

    # One "machine": an sshd on a free localhost port whose powershell subsystem starts this PowerShell with the
    # machine's own HOME (so its own CurrentUser module path) and its model folder in WUERSTCHEN_MODEL_PATH.
    function Start-Machine([string] $Name, [string] $ClientKey) {
        $root = New-Item -ItemType Directory (Join-Path $TestDrive $Name) -Force
        $home_ = New-Item -ItemType Directory (Join-Path $root 'home') -Force
        ssh-keygen -q -t ed25519 -N '' -C $Name -f (Join-Path $root 'host_key') | Out-Null
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
        $pwsh = Get-PwshCommand
        $command = (@($pwsh.Exe) + $pwsh.Prefix | ForEach-Object { "'$_'" }) -join ' '
        $subsystem = Join-Path $root 'pwsh-subsystem.sh'
        # a wrapper, because this PowerShell may be a dotnet tool (dotnet + pwsh.dll) where a machine has /usr/bin/pwsh
        Set-Content -LiteralPath $subsystem -Value "#!/bin/sh`nexport HOME='$home_' WUERSTCHEN_MODEL_PATH='$Models'`nexec $command -sshs -NoLogo -NoProfile"
        chmod 755 $subsystem
        $config = Join-Path $root 'sshd_config'
        # StrictModes no: the test's folders live under /tmp, whose mode sshd would refuse for authorized_keys
        Set-Content -LiteralPath $config -Value @"
Port $port
ListenAddress 127.0.0.1
HostKey $(Join-Path $root 'host_key')
PidFile $(Join-Path $root 'sshd.pid')
AuthorizedKeysFile $ClientKey.pub
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
LogLevel ERROR
Subsystem powershell $subsystem
"@
        # run as root, sshd wants its privilege separation folder (the ssh service makes it at boot)
        if ((id -u) -eq '0' -and -not (Test-Path /run/sshd)) { $null = New-Item -ItemType Directory /run/sshd }
        $log = Join-Path $root 'sshd.log'
        $process = Start-Process $Sshd -ArgumentList '-D', '-e', '-f', $config -PassThru -RedirectStandardError $log
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ($true) {
            $client = [Net.Sockets.TcpClient]::new()
            try { $client.Connect([Net.IPAddress]::Loopback, $port); break } catch { } finally { $client.Dispose() }
            if ($process.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw "sshd did not start on port ${port}: $(Get-Content -LiteralPath $log -Raw)" }
            Start-Sleep -Milliseconds 100
        }
        [pscustomobject]@{ Name = $Name; Port = $port; Process = $process; Home = $home_.FullName; Log = $log }
    }

    function New-MachineSession($Server) {
        New-PSSession -HostName 127.0.0.1 -Port $Server.Port -UserName (id -un) -KeyFilePath $script:ClientKey -ConnectingTimeout 60000 `
            -Options @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; LogLevel = 'ERROR' }
    }

    if (-not $NoSsh) {
        $script:ClientKey = Join-Path $TestDrive 'client_key'
        ssh-keygen -q -t ed25519 -N '' -C client -f $ClientKey | Out-Null
        $script:Servers = @(Start-Machine 'gpu1' $ClientKey; Start-Machine 'gpu2' $ClientKey)
        $script:Machines = @($Servers | ForEach-Object { New-MachineSession $_ })

        # on each machine, as a user installs it: a repository holding the .nupkg build.ps1 wrote, Install-PSResource
        $script:Repo = New-Item -ItemType Directory (Join-Path $TestDrive 'repo') -Force
        if ($PackageStage) {
            Copy-Item (Get-TestPackageFile $PackageStage) -Destination $Repo
            $script:Installed = @(Invoke-Command -Session $Machines -ErrorAction Stop -ScriptBlock {
                $ErrorActionPreference = 'Stop'
                Register-PSResourceRepository -Name WuerstchenTest -Uri $using:Repo.FullName -Trusted
                Install-PSResource Wuerstchen -Repository WuerstchenTest -TrustRepository -Scope CurrentUser
                Import-Module Wuerstchen
                [pscustomobject]@{ Home = $HOME; Base = (Get-Module Wuerstchen).ModuleBase; Pid = $PID }
            } | Sort-Object Home)
        }
    }
}

AfterAll {
    $Machines | Remove-PSSession -ErrorAction Ignore
    if ($Servers) { Stop-ProcessTree -Id @($Servers | ForEach-Object { $_.Process.Id }) }
}

Describe 'Install-PSResource Wuerstchen on two machines reached over SSH' {
    It 'installs the package into each machine''s own module path and imports it by name' {
        if ($NoSsh) { Set-ItResult -Skipped -Because $NoSsh; return }
        $PackageStage | Should -Not -BeNullOrEmpty -Because 'build.ps1 -Task Test builds the package first (WUERSTCHEN_TEST_PACKAGE)'
        $Installed | Should -HaveCount 2
        foreach ($i in 0, 1) {
            $Installed[$i].Home | Should -Be $Servers[$i].Home
            $Installed[$i].Base | Should -BeLike "$($Servers[$i].Home)/.local/share/powershell/Modules/Wuerstchen/*"
        }
        $Installed[0].Pid | Should -Not -Be $Installed[1].Pid -Because 'two sessions are two processes'
    }
}

Describe 'Get-WuerstchenEmbedding on one machine, ConvertFrom-WuerstchenEmbedding on another' {
    It 'the README''s stage split over a shared folder gives the pixels of one process' {
        if ($NoSsh) { Set-ItResult -Skipped -Because $NoSsh; return }
        $share = New-Item -ItemType Directory (Join-Path $TestDrive 'split-share') -Force
        $lines = (Get-ReadmeRecipe '# machine A: the prior' $share) -split '\r?\n'
        $at = [array]::FindIndex($lines, [Predicate[string]] { param($l) $l -like '# machine B*' })
        $prior = $lines[1..($at - 1)] -join "`n"
        $decoder = $lines[($at + 1)..($lines.Count - 1)] -join "`n"
        Invoke-Command -Session $Machines[0] -ScriptBlock ([scriptblock]::Create($prior)) -ErrorAction Stop 3>$null
        Join-Path $share 'emb/lighthouse.npy' | Should -Exist
        Join-Path $share 'emb/lighthouse.json' | Should -Exist
        $null = Invoke-Command -Session $Machines[1] -ScriptBlock ([scriptblock]::Create($decoder)) -ErrorAction Stop 3>$null

        $single = Join-Path $TestDrive 'split-single'
        $null = Get-WuerstchenEmbedding 'a lighthouse at dusk' -Seed 7 | ConvertFrom-WuerstchenEmbedding -Seed 7 -OutputPath $single
        $a = @(Get-ChildItem -LiteralPath $single -Filter *.png)
        $b = @(Get-ChildItem -LiteralPath (Join-Path $share 'renders') -Filter *.png)
        $a | Should -HaveCount 1
        $b.Name | Should -Be $a.Name
        $pa = Get-Rgb $a[0].FullName
        $pb = Get-Rgb $b[0].FullName
        "$($pb.Width)x$($pb.Height)" | Should -Be "$($pa.Width)x$($pa.Height)"
        [Linq.Enumerable]::SequenceEqual([byte[]] $pa.Bytes, [byte[]] $pb.Bytes) | Should -BeTrue -Because 'the decoder on machine B must give the one-process pixels'
    }
}

Describe 'New-WuerstchenImage -SkipExisting on two machines over one CSV' {
    It 'a machine killed mid-run and the recipe run again: every row rendered exactly once, nothing partial left' {
        if ($NoSsh) { Set-ItResult -Skipped -Because $NoSsh; return }
        $share = New-Item -ItemType Directory (Join-Path $TestDrive 'share') -Force
        $rows = New-ScaleOutCsv (Join-Path $share 'prompts.csv') 8
        $renders = Join-Path $share 'renders'
        # the README block; its first line names real hosts, the test's two sessions stand in for them
        $recipe = Get-ReadmeRecipe 'Invoke-Command -Session $machines[$i]' $share
        $recipe = ($recipe -split '\r?\n' | Where-Object { $_ -notlike '$machines = New-PSSession*' }) -join "`n"
        $run = [scriptblock]::Create($recipe)

        # first run: machine 2 (rows 1, 3, 5, 7) loses its remote pwsh after its first image
        $victim = Invoke-Command -Session $Machines[1] -ScriptBlock { $PID }
        $victimSeeds = @(for ($r = 1; $r -lt $rows.Count; $r += 2) { [long] $rows[$r].Seed })
        $killer = Start-ThreadJob -ScriptBlock $KillAfterFirstImage -ArgumentList $victim, $renders, $victimSeeds
        $first = Invoke-Capture $run
        $kill = Receive-Job $killer -Wait -AutoRemoveJob
        $kill.Killed | Should -BeTrue -Because "the victim must be killed mid-run ($($kill.Why))"
        # (PowerShell's SSH client says "The SSH transport process has abruptly terminated", or, when the kill cut a
        # message in half, that the data "is not a valid Base-64 string")
        $first.Errors | Should -Not -BeNullOrEmpty -Because 'the killed machine''s job fails'
        $before = Get-FolderState $renders
        $survivorSeeds = @(for ($r = 0; $r -lt $rows.Count; $r += 2) { [long] $rows[$r].Seed })
        foreach ($seed in $survivorSeeds) { @(@($before.Name) -match "-$seed-0\.png$") | Should -HaveCount 1 -Because "machine 1 finishes its row $seed" }
        $victimDone = @($victimSeeds | Where-Object { $before.Name -match "-$_-0\.png$" })
        $victimDone.Count | Should -BeGreaterThan 0
        $victimDone.Count | Should -BeLessThan $victimSeeds.Count -Because 'the kill must leave rows to make'
        $before.Name | Where-Object { $_ -notlike '*.png' } | Should -BeNullOrEmpty -Because 'the kill landed between two writes'

        # the recipe again, on new sessions (the killed machine's server is still up)
        $Machines | Remove-PSSession
        $script:Machines = @($Servers | ForEach-Object { New-MachineSession $_ })
        $second = Invoke-Capture $run
        $second.Errors | Should -BeNullOrEmpty
        $made = @($second.Output | Where-Object { -not $_.Skipped })
        $skipped = @($second.Output | Where-Object { $_.Skipped })
        $skipped | Should -HaveCount $before.Count -Because 'every file of the first run is skipped'
        $missing = @($rows.Seed | ForEach-Object { [long] $_ } | Where-Object { -not ($before.Name -match "-$_-0\.png$") })
        ($made.Seed | Sort-Object) | Should -Be ($missing | Sort-Object) -Because 'the second run makes exactly the missing rows'
        Assert-EveryRowOnce -Rows $rows -Folder $renders -Before $before
    }
}

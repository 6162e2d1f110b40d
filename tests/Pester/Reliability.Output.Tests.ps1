# Reliability matrix, output paths: folders that cannot be written or created, existing files, a full disk.
# What every case asserts, and the shared helpers: Reliability.Common.ps1.
# The full-disk case is covered by xunit (IoTests.AtomicWriteLeavesNothingWhenTheWriterFails) and, through the
# engine's AtomicFile, by 'a full disk mid-write' below: a full disk cannot be simulated for a cmdlet here.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'Reliability.Common.ps1')
}

Describe 'Output paths' {
    It 'a read-only output folder gives a write error and leaves nothing' {
        $ro = Join-Path $TestDrive 'readonly'
        $null = New-Item -ItemType Directory $ro
        $readOnlyWorks = $false
        if (-not $IsWindows) {
            chmod 555 $ro
            # root (as in this container) may still write there: then use a folder that can never be created
            try { [IO.File]::WriteAllText((Join-Path $ro 'probe'), 'x'); Remove-Item (Join-Path $ro 'probe') } catch { $readOnlyWorks = $true }
        }
        if ($readOnlyWorks) {
            $dir = $ro; $id = 'OutputWriteFailed'; $names = @($ro)
        }
        else {
            Set-Content (Join-Path $TestDrive 'afile') 'a regular file'
            $dir = Join-Path $TestDrive 'afile/sub'; $id = 'OutputFolderNotCreated'; $names = @($dir)
        }
        try {
            $r = Invoke-Capture { New-WuerstchenImage 'read only' @Small -OutputPath $dir }
            $r.Output | Should -BeNullOrEmpty
            $r.Errors.Count | Should -Be 1
            Assert-WuerstchenError $r.Errors[0] $id 'WriteError' $names
            Assert-NothingWritten $dir
        }
        finally { if (-not $IsWindows) { chmod 755 $ro } }
        Assert-NextCallWorks
    }

    It 'a folder under a regular file cannot be created: OutputFolderNotCreated' {
        Set-Content (Join-Path $TestDrive 'plainfile') 'a regular file'
        $dir = Join-Path $TestDrive 'plainfile/sub'
        $r = Invoke-Capture { New-WuerstchenImage 'under a file' @Small -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'OutputFolderNotCreated' 'WriteError' @($dir)
        (Get-Content (Join-Path $TestDrive 'plainfile')) | Should -Be 'a regular file'
        Assert-NoTemporaryFile $TestDrive
        Assert-NextCallWorks
    }

    It 'Export-WuerstchenEmbedding into a folder that cannot exist: OutputWriteFailed, no temporary file' {
        Set-Content (Join-Path $TestDrive 'npyfile') 'a regular file'
        $target = Join-Path $TestDrive 'npyfile/e.npy'
        $e = Get-WuerstchenEmbedding 'x' -Width 128 -Height 128 -Seed 1 -PriorSteps 2
        $r = Invoke-Capture { $e | Export-WuerstchenEmbedding -Path $target }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'OutputWriteFailed' 'WriteError' @($target)
        Assert-NoTemporaryFile $TestDrive
    }

    It 'a .png file name in a missing folder: OutputFolderNotFound naming the folder' {
        $missing = Join-Path $TestDrive 'no-such-folder'
        $file = Join-Path $missing 'x.png'
        $r = Invoke-Capture { New-WuerstchenImage 'missing folder' @Small -OutputPath $file }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'OutputFolderNotFound' 'ObjectNotFound' @($missing, $file)
        Test-Path $missing | Should -BeFalse
        Assert-NextCallWorks
    }

    It 'an existing file without -Force: OutputFileExists, the file is kept, nothing else written' {
        $dir = Join-Path $TestDrive 'existing'
        $null = New-Item -ItemType Directory $dir
        $file = Join-Path $dir 'keep.png'
        Set-Content $file 'keep me'
        $r = Invoke-Capture { New-WuerstchenImage 'exists' @Small -OutputPath $file }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'OutputFileExists' 'WriteError' @($file, '-Force')
        Get-Content $file | Should -Be 'keep me'
        @(Get-ChildItem $dir -Force).Name | Should -Be @('keep.png')
        $forced = New-WuerstchenImage 'exists' @Small -OutputPath $file -Force
        (Get-Rgb $forced.FullName).Width | Should -Be 128
        @(Get-ChildItem $dir -Force).Name | Should -Be @('keep.png')
    }

    It 'an existing file that is not a .png as -OutputPath: OutputPathIsFile' {
        $file = Join-Path $TestDrive 'notes.txt'
        Set-Content $file 'notes'
        $r = Invoke-Capture { New-WuerstchenImage 'x' @Small -OutputPath $file }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'OutputPathIsFile' 'InvalidArgument' @($file)
        Get-Content $file | Should -Be 'notes'
    }

    It 'a full disk mid-write (engine AtomicFile, simulated): OutputWriteFailed and no temporary file' {
        # the cmdlets write every file through AtomicFile; a failing stream stands in for ENOSPC
        if (-not ('PesterFullDisk' -as [type])) {
            Add-Type -TypeDefinition @'
public static class PesterFullDisk {
    public static System.Action<System.IO.Stream> FailAfter(int bytes) => s => {
        s.Write(new byte[bytes], 0, bytes);
        throw new System.IO.IOException("No space left on device");
    };
}
'@
        }
        $dir = Join-Path $TestDrive 'full'
        $null = New-Item -ItemType Directory $dir
        $path = Join-Path $dir 'image.png'
        $err = $null
        try { [Wuerstchen.Core.IO.AtomicFile]::Write($path, $false, [PesterFullDisk]::FailAfter(65536)) } catch { $err = $_.Exception.InnerException }
        $err | Should -BeOfType [Wuerstchen.Core.WuerstchenException]
        $err.ErrorId | Should -Be 'OutputWriteFailed'
        $err.Message | Should -BeLike "*$path*No space left on device*"
        $record = [Wuerstchen.PowerShell.WuerstchenCmdlet]::ToErrorRecord($err)
        $record.CategoryInfo.Category | Should -Be 'WriteError'
        Assert-NothingWritten $dir
        Assert-NextCallWorks
    }
}

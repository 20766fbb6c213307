from lakehouse.cli.commands import console_script

console_script()

# bash completion for Lodge's commands: market, provider, tenant, ledger
# and sdl (their commands, then each command's options, then files).
# `make install` puts a copy under each command's name in
# $(datadir)/bash-completion/completions; or source this file.

# _lodge_opts TEXT: the long options a --help text lists.
_lodge_opts()
{
	printf '%s\n' "$1" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

_lodge()
{
	local cmd=${COMP_WORDS[0]##*/} cur=${COMP_WORDS[COMP_CWORD]}
	local prev=${COMP_WORDS[COMP_CWORD-1]} words="" sub="" i

	# the first word that is not an option (and not an option's value)
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--market|--witness-policy|--data|--key|--deposit|--ttl|--timeout|--auto|--below) ((i++)) ;;
		-*) ;;
		*) sub=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $prev in
	--data|--since) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--key|--policy|--witness-policy|--body)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--log-level) COMPREPLY=($(compgen -W "debug info warn error off" -- "$cur")); return ;;
	--auto) COMPREPLY=($(compgen -W "off" -- "$cur")); return ;; # or an amount
	esac
	if [ -z "$sub" ]; then
		case $cmd in
		market) words="run deposit" ;;
		provider) words="init run status bond withdraw transfer request sandbox prepare wasm" ;;
		tenant) words="keygen address balance deploy ls status logs events shell exec topup close update quote providers help --market --witness-policy --json" ;;
		ledger) words="init keygen envelope append checkpoint show proof verify mirror audit tiles witness cosign follow attest" ;;
		sdl) words="check manifest hash orders akash" ;;
		esac
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
		return
	fi
	case $cmd:$sub in
	provider:sandbox) [ "$COMP_CWORD" = $((i + 1)) ] && words="run enter" ;;
	provider:prepare) [ "$COMP_CWORD" = $((i + 1)) ] && words="git fetch wasm" ;;
	provider:wasm) [ "$COMP_CWORD" = $((i + 1)) ] && words="run serve compile validate spec" ;;
	sdl:akash) [ "$COMP_CWORD" = $((i + 1)) ] && words="groups manifest" ;;
	ledger:proof) [ "$COMP_CWORD" = $((i + 1)) ] && words="inclusion consistency" ;;
	esac
	if [ -n "$words" ]; then
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
		return
	fi
	if [[ $cur == -* ]]; then
		local help args=("$sub") next=${COMP_WORDS[i+1]}
		# a group's command: `provider wasm run --...`
		[ $((i + 1)) -lt "$COMP_CWORD" ] && [[ $next != -* ]] &&
		    args+=("$next")
		help=$("$cmd" "${args[@]}" --help 2>/dev/null)
		COMPREPLY=($(compgen -W "$(_lodge_opts "$help")" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _lodge market provider tenant ledger sdl

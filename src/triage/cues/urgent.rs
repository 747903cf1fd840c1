//! Urgency vocabulary: money or security at risk now, physical hazards,
//! same-day deadlines. Each entry is a cue with its patterns in Spanish,
//! Portuguese and English (see [`super::pattern`] for the syntax). Some cues
//! only count in combination (a suspicious source *and* data handed over; a
//! same-day deadline *and* a problem); [`crate::triage::rules`] combines them.

use super::Cue;

pub(super) const TABLE: &[(Cue, &[&str])] = &[
    (
        Cue::RepeatedCharge,
        &[
            // es
            "cobr*|cargaron|cargo|cargos|descont* .. dos|# veces",
            "cobr*|cargaron|cargo|cargos|descont* .. doble|doblemente|duplicad*",
            "dos|# cargos|cobros|descuentos",
            "cargo*|cobro* doble*|duplicad*|repetid*",
            "volv* a cobr*|cargar|descont*",
            "cobr*|cargaron|descont* .. otra vez",
            "cobr*|cargaron|descont* .. de nuevo",
            "cobr*|cargaron|descont* .. nuevamente",
            // pt
            "cobr* .. duas|# vezes",
            "paguei|pagou|pago|debitad*|descontad* .. duas|# vezes",
            "duas|# cobrancas|debitos|compras",
            "cobranca*|cobrancas duplicad*|dupla*|repetid*",
            "cobr* .. de novo",
            "cobr* .. outra vez",
            "cobr* .. novamente",
            // en
            "charged|billed .. twice|double|again",
            "paid|debited .. twice",
            "charged|billed .. two|# times",
            "double|duplicate charg*|billing|payment*",
            "two|# charges",
        ],
    ),
    (
        Cue::UnrecognisedCharge,
        &[
            // es
            "no reconozco|reconocemos",
            "no lo|la|los|las reconozco",
            "yo no compre|hice|autorice|realice|solicite",
            "pedido|compra|cargo|cobro|orden que no hice|autorice|realice|reconozco",
            "sin mi autorizacion|permiso",
            "no autoriz*",
            "cargo*|cobro*|movimiento*|compra* raro*|extran*|desconocid*|sospechos*",
            "clonaron|clonada|clonado",
            "usaron|usando mi tarjeta",
            "sin autoriz*|consentimiento",
            "sin mi|su autoriz*|consentimiento|permiso",
            "sin que yo .. autoriz*|supiera",
            "alguien .. uso|usaron|hizo|compro|clono .. tarjeta|cuenta",
            // pt
            "nao reconheco",
            "que eu nao fiz|comprei|autorizei",
            "eu nao fiz|comprei|autorizei .. compra|pedido",
            "nao fui eu",
            "sem minha autorizacao|permissao",
            "sem eu .. autoriz*|permissao|saber",
            "sem minha|meu .. autoriz*|permissao|consentimento",
            "sem autoriz*|consentimento",
            "nao autoriz*",
            "usaram|usou|usando .. meu cartao",
            "alguem .. usou|usaram|fez|comprou|clonou .. cartao|compra|conta",
            "cobranca*|compra* estranh*|desconhecid*|suspeit*",
            // en
            "was not me",
            "did not make|place|authori*",
            "never made|placed|authori*",
            "charge|purchase|order .. i did not make|place|buy|order",
            "unauthori*",
            "without my|me .. permission|consent|authori*|knowing",
            "do not recogni*|recogniz*",
            "fraud*",
            "someone|somebody .. used|placed|made .. card|order*|purchase*",
            "stolen card",
            "card .. stolen",
        ],
    ),
    (
        Cue::AccountTakeover,
        &[
            // es
            "alguien|extrano .. entro|entraron|metio|metieron|accedio|accedieron|hackeo .. cuenta|perfil|correo",
            "otra persona .. entro|entraron|metio|metieron|accedio|accedieron .. cuenta|perfil|correo",
            "hacke*|hakea*|jackearon|jackeo|jackeado|jackear",
            "robaron .. cuenta|contrasena|clave|datos",
            "contrasena|password|clave .. que yo no pedi|solicite",
            "no solicite .. contrasena|password|clave",
            // pt
            "alguem .. entrou|acessou|invadiu|mexeu .. conta",
            "invadi*|hackea*|raquea*",
            // en
            "someone|somebody .. logged|broke in|into",
            "someone|somebody .. got into|access",
            "account .. compromised|taken|hijack*|stolen",
            "changed my email|password .. did not",
        ],
    ),
    (
        Cue::SuspiciousSource,
        &[
            // es: someone pretending to be the business, a lure, a link
            "diciendo|dijo|decia|dijeron|decian .. que es|era|son|eran|somos de",
            "se hace|hacen|hacia|hizo pasar",
            "dice|dicen|decia|dijo|dijeron ser",
            "dice|dicen|decia|dijo|dijeron .. ustedes|tienda|empresa",
            "haciendose pasar",
            "gane|ganaste|ganador|premio|sorteo|rifa",
            "numero|perfil|pagina|cuenta|correo raro|desconocido|extrano|falso|falsa|sospechoso|clonad*",
            "pagina|perfil|grupo .. face|facebook|insta|instagram|tiktok",
            "pagina|perfil|grupo .. se llama",
            "link|enlace|liga",
            "vino|llego|toco|tocaron .. senor|senora|persona|tipo|hombre|mujer|muchacho|repartidor .. dicie*|dice",
            // pt
            "dizendo|dizia|disse .. que era|e|eram|sao da|do|de",
            "se passando",
            "diz|dizem|disse|disseram ser",
            "ganhei|ganhou|sorteio|premio",
            "perfil|pagina|numero falso|falsa|estranho|desconhecido",
            // en
            "claiming|claims|pretending|pretended .. to be",
            "claiming|claims|pretending|pretended .. from",
            "saying|said .. they are|were from",
            "saying|said .. it is|was from",
            "is|was this you|legit|real",
            "fake|spoof*|phish*|scam*",
            "won|winner|prize|giveaway",
        ],
    ),
    (
        Cue::SensitiveRequest,
        &[
            // es: asked for data or money
            "pidi*|pedian|piden|pide|solicit* .. codigo|cvv|nip|contrasena|clave|datos|deposit*|pago|transferencia|tarjeta|dinero",
            "tengo|tenia|tenemos|tiene que pagar|depositar|transferir",
            "pagar|pague|deposit* .. link|enlace|liga",
            "confirmar .. tarjeta|datos",
            // pt
            "pedindo|pediram|pediu|pede .. codigo|dados|senha|cartao|pix|pagamento|deposito",
            "tinha|tenho que pagar",
            // en
            "ask*|request* .. card|code|password|pin|cvv|payment|bank|details|confirm",
            "confirm .. card|details|account",
            "pay .. link",
        ],
    ),
    (
        Cue::DataHandedOver,
        &[
            // es: the customer already gave data or paid
            "ya se|le|les los|las|lo|la di",
            "se|le|les los|las|lo|la di",
            "ya di|mande|pase",
            "di|mande|pase|envie|comparti mi|mis|el|los|la|su|sus datos|codigo|tarjeta|numero|nip|contrasena|clave|cvv",
            "puse|ingrese|meti|capture|escribi .. datos|tarjeta|numero|codigo|contrasena",
            "lo|la|ya pague|deposite|transferi",
            "ya le|les deposit*|pag*|transfer*",
            "ya deposit*|transfer*",
            // pt
            "eu mandei|passei|informei|digitei|coloquei|paguei",
            "ja mandei|passei|paguei|informei",
            "mandei|passei|informei|digitei|coloquei|enviei .. dados|numero|cartao|senha|codigo|cvv",
            // en
            "already|i clicked|typed|entered|gave|sent|paid|shared",
            "typed|entered|gave|shared .. card|code|password|details|number",
            "clicked .. link",
        ],
    ),
    (
        Cue::PhysicalHazard,
        &[
            // es
            "humo|humea|humeando|humeo",
            "chispa*|chispeo|chisporrote*",
            "quema|quemo|quemado|quemada|quemaba|quemarse|quemadura*",
            "sobrecalent*",
            "calento|calienta|calientan|calentaba|calentando|calentado|calentaron .. mucho|demasiado|tanto|muchisimo|bastante|horrible",
            "muy|super|demasiado|bien caliente|calientito|calientita",
            "derriti*|derrite",
            "explot*|estallo",
            "incendi*|fuego|flamazo|lumbre",
            "inflo|inflado|inflada|hinchad*|hincho|abombad*",
            "dio|da|dan|daba|dar|dieron .. toque|toques|descarga|descargas|choque",
            "electrocut*",
            "cable|cables pelado|pelados|expuesto|expuestos",
            // pt
            "fumaca|fumacando|fumegando",
            "faisca*|faiscou|faiscando",
            "queimou|queimado|queimada|queimando|queimadura|queimar",
            "esquent* .. muito|demais|bastante",
            "superaquec*",
            "derret*",
            "explod*|explosao",
            "pegou|pegando fogo",
            "inchad*|inchou|estufad*|estufou",
            "levou|deu|dando .. choque",
            // en
            "smok*",
            "spark*",
            "overheat*",
            "burn*",
            "melt*",
            "explod*|explosion",
            "fire|flames|flame",
            "swollen|swell*|bulg*|bloat*",
            "puff* up",
            "electrocut*",
            "electric shock",
            "gave|got .. shock",
            "too|very|so|really|extremely hot",
            "tripped .. breaker",
        ],
    ),
    (
        Cue::Injury,
        &[
            // es
            "lastim*|herid*|sangr*|fractur*",
            "se|me|le pego|pegue|golpeo|golpee",
            "llev*|fuimos|fue|ir .. doctor|medico|hospital|urgencias|clinica",
            // pt
            "machuc*|ferid*|sangr*",
            "levamos|levei|levou|fomos .. medico|hospital|socorro",
            // en
            "injur*|hurt|bleed*",
            "took|taken|went .. doctor|hospital|er|emergency",
        ],
    ),
    (
        Cue::ServiceOutage,
        &[
            "sin servicio|internet|senal|linea|luz",
            "sem servico|internet|sinal|linha",
            "no service|internet|signal",
            "outage",
            "service|internet .. down",
            "sitio|pagina|app|aplicacion|web .. caid*|abajo",
            "nada funciona|sirve",
            "site|app|aplicativo .. fora do ar|caiu|caido",
            "nada funciona",
            "site|website|app .. is|went down",
            "nothing works",
        ],
    ),
    (
        Cue::SameDayDeadline,
        &[
            // es
            "vence|vencen|vencia|expira|expiran|caduca|caducan|termina|cierra|sale|salen|envian|mandan|despachan .. hoy",
            "hoy .. vence|vencen|expira|caduca|ultimo|ultima",
            "hoy es .. ultimo|ultima|#",
            "ultimo dia",
            "antes de .. medianoche",
            // pt
            "vence|vencem|expira|sai|termina .. hoje",
            "hoje .. vence|expira|ultimo",
            // en
            "expire*|expiring|ships|shipping|due|ends|closes|leaves|leaving .. today|tonight",
            "today .. last day",
            "last day",
        ],
    ),
    (
        Cue::DeadlineProblem,
        &[
            // es: not reflected, wrong detail, failing system, loss
            "pendiente|pendientes",
            "sin reflejar*",
            "no se refleja|reflejo|reflejado|ve|aparece",
            "no ha caido|reflejado|aparecido",
            "no aparece|cae",
            "puse|pusimos|escribi .. mal",
            "me equivoque",
            "equivocad*|incorrect*|erroneo*",
            "ya no vivo|vivimos",
            "me|nos mude|mudamos",
            "cambie de casa",
            "direccion vieja|anterior",
            "error|falla|fallando",
            "no funciona|carga|sirve|abre",
            "no me deja",
            "pierdo|perder|perderia|perdemos",
            // pt
            "pendente",
            "nao caiu|aparece|foi",
            "errad*|errei",
            "endereco antigo",
            "mudei|mudamos",
            "erro|perder|perco",
            "nao funciona",
            // en
            "pending",
            "not showing|reflected|updated|posted",
            "wrong|mistake|typo",
            "old address",
            "moved",
            "error|lose|losing",
            "not working",
        ],
    ),
];

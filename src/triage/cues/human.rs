//! Vocabulary for turns that need a person: explicit requests for an agent
//! or a call-back, complaints and claims, legal threats, actions on a
//! specific order the bot cannot perform, and request types a help centre
//! rarely covers (stock, wholesale, jobs, partnerships). Patterns in
//! Spanish, Portuguese and English; syntax in [`super::pattern`].

use super::Cue;

pub(super) const TABLE: &[(Cue, &[&str])] = &[
    (
        Cue::PersonRequest,
        &[
            // es
            "hablar|platicar|comunicar*|contactar|chatear|atienda|atiendan .. persona|humano|agente|asesor|asesora|ejecutivo|ejecutiva|representante|encargado|gerente|supervisor|alguien|operador",
            "persona|humano .. real|verdad|carne",
            "no .. robot|bot|maquina|contestadora",
            "pasa|pasame|pasen|pasenme|comunica|comunican|comunicas|comunicame|comuniquen|comuniqueme|transfier*|canalic*|conect* .. persona|agente|asesor|humano|alguien|ejecutivo",
            "quiero|necesito|ocupo|exijo|pido un|una|al|a|con persona|agente|asesor|asesora|humano|ejecutivo|gerente|supervisor",
            "quiero|necesito|ocupo|exijo|pido agente|asesor|asesora|humano|ejecutivo|gerente|supervisor",
            "necesito|ocupo|quiero que alguien",
            "alguien que me ayude|atienda|resuelva",
            // pt
            "falar|conversar .. atendente|pessoa|humano|alguem|gerente|agente|responsavel|supervisor",
            "quero|preciso .. atendente|humano|agente|gerente",
            "pessoa de verdade",
            "pessoa real",
            // en
            "talk|speak|chat .. person|human|agent|someone|somebody|representative|rep|manager|supervisor|operator|staff",
            "real|actual|live person|human|agent",
            "need|want|get .. person|human|agent|representative|manager",
            "need|want someone|somebody to",
            "not a bot",
        ],
    ),
    (
        Cue::CallBack,
        &[
            // es
            "marquen*|marcame|marcarme|marqueme|llamenme|llamame|llamarme|llameme|hablenme|hablame",
            "me puede|pueden|podria|podrian|podrias .. marcar|llamar",
            "puede|pueden|podria|podrian|podrias marcarme|llamarme",
            "me marque|marquen|llame|llamen",
            "me devuelvan|regresen la llamada",
            // pt
            "me liga|ligar|ligue|liguem|ligam",
            "pode|podem .. ligar",
            "ligar para mim",
            "retornar a ligacao",
            // en
            "call me|back",
            "callback",
            "give me a call|ring",
            "phone|ring me",
            "reach out to me",
        ],
    ),
    (
        Cue::DamagedItem,
        &[
            // es
            "roto|rota|rotos|rotas|quebrad*|quebro|estrellad*|danad*|despostill*|rayon*|rayad*|abollad*|golpead*|mojad*|manchad*|defectuos*|desgarrad*",
            "llego|llegaron|venia|venian|vino|vinieron .. abiert*",
            "abiert* .. caja|paquete",
            "despeg*|descosi*|descoc*|deshilach*|destenid*|decolor*|rasg*",
            // pt
            "quebrad*|quebrou|danificad*|amassad*|rachad*|trincad*|riscad*|molhad*|rasgad*|estragad*|defeituos*|descolou|descosturou",
            "chegou|veio .. aberto|aberta",
            // en
            "broken|shattered|cracked|damaged|smashed|dented|scratched|torn|ripped|crushed|soaked|defective|stained",
            "arrived|came .. open|opened",
            "fell|coming apart",
        ],
    ),
    (
        Cue::WrongItem,
        &[
            // es
            "llego|llegaron|mandaron|enviaron|vino|vinieron .. equivocad*|incorrect*|diferente|distint*",
            "pedi ... me llego|llegaron|mandaron|enviaron|vino|vinieron un|una|unos|unas|otro|otra|el|la",
            "no es|era lo|el|la que pedi|compre",
            "algo que no pedi",
            // pt
            "veio|chegou|mandaram|enviaram .. errad*|diferente|trocad*",
            "pedi ... mas|e veio|chegou|mandaram um|uma|outro|outra|o|a",
            // en
            "wrong item|color|colour|product|order|thing|one",
            "sent me .. wrong|different|instead",
            "ordered ... but|instead .. got|received|came|sent",
            "not what i ordered",
        ],
    ),
    (
        Cue::MissingItem,
        &[
            // es
            "falto|faltaron|faltaba|faltaban",
            "falta|faltan .. producto|productos|articulo|articulos|pieza|piezas|cosa|cosas|uno|una",
            "solo venian|venia|llego|llegaron|vinieron|traia|traian|trae",
            "no venia|venian|vino .. producto|articulo|pieza|uno|una",
            // pt
            "faltou|faltando|faltava",
            "veio|chegou so",
            "so veio|chegou",
            // en
            "missing",
            "only got|received|came",
            "not in the box|package",
        ],
    ),
    (
        Cue::MarkedDelivered,
        &["entregad*|entregue|entregaron|delivered"],
    ),
    (
        Cue::NotReceived,
        &[
            "no .. recibi|recibimos|llego|ha llegado|tengo|tenemos",
            "nada",
            "nao .. recebi|recebemos|chegou",
            "nothing",
            "never got|received|arrived|came",
            "did not get|receive|arrive",
            "not received",
            "have not received",
        ],
    ),
    (
        Cue::StillNot,
        &[
            // es
            "no llega|llegan|llego",
            "no ha|han llegado|devuelto|regresado|depositado|reembolsado|acreditado|reflejado",
            "no me llega|llegan|llego|han",
            "no me han devuelto|regresado|depositado|reembolsado|respondido",
            "no se ha|han acreditado|reflejado|movido|actualizado",
            "todavia|aun no",
            "sigue|siguen sin",
            "sin moverse|movimiento|actualizar|actualizacion|respuesta",
            "no se mueve|movio",
            "no se ha movido",
            "nada de nada",
            // pt
            "ainda nao|nada",
            "sem atualiz*|movimento|resposta",
            "parado|parada",
            // en
            "still no|not|nothing|waiting",
            "no update|updates|movement",
            "has|have not moved|arrived|received|updated|come|shown",
            "not moved|arrived|received",
        ],
    ),
    (
        Cue::Never,
        &[
            "nunca .. llego|llegaron|acredit*|reflej*|recibi|devolv*|regres*|deposit*|respond*",
            "nunca .. chegou|recebi|caiu|creditad*|devolv*",
            "never .. arrived|came|credited|showed|refunded|received|got",
        ],
    ),
    (
        Cue::LegalThreat,
        &[
            "profeco|condusef|procon|reclameaqui|abogad*|advogad*|lawyer*|attorney*|demandar*|denunci*|juicio|lawsuit|sue|suing",
            "reclame aqui",
            "contracargo|chargeback|chargebacks",
            "charge back",
            "disput* .. cargo|charge|transaction|banco|bank",
            "aclaracion .. banco",
            "queja formal",
            "poner|levantar|presentar|interponer .. queja",
            "consumer protection|agency|rights",
            "bbb",
        ],
    ),
    (
        Cue::PublicShaming,
        &[
            "exhib*|funar|funa|evidenciar|balconear",
            "quemar .. redes",
            "expor|expose|exposing",
            "viral|viralizar",
            "bad|terrible .. review*",
        ],
    ),
    (
        Cue::RepeatedContact,
        &[
            // es
            "segunda|tercera|cuarta|quinta|# vez .. escribo|escribi|pregunto|llamo|reclamo|mando|contacto|pido",
            "ya .. escribi|llame|pregunte|reclame .. veces|vez|varias",
            "nadie .. resuelve|responde|contesta|ayuda|atiende|hace caso",
            "no me .. resuelven|responden|contestan|hacen caso|atienden",
            // pt
            "segunda|terceira|quarta|# vez .. escrevo|mando|pergunto|ligo|reclamo|falo|entro",
            "ninguem .. responde|resolve|ajuda|atende",
            "ja .. mandei|escrevi|liguei .. vezes",
            // en
            "second|third|fourth|2nd|3rd|4th time .. writing|asking|contacting|messaging|calling|write|ask|contact|message|call|reaching",
            "nobody .. answers|answered|responds|responded|replied|helps|helped|gets",
            "no one .. answers|answered|responds|responded|replied|helps|helped|gets",
            "asked|written|wrote|called|contacted|messaged .. times|several|multiple|many",
        ],
    ),
    (
        Cue::OrderEdit,
        &[
            // es
            "agregar|anadir|sumar|quitar|eliminar|incluir|meter|aumentar .. pedido|orden|compra",
            // pt
            "adicionar|incluir|tirar|remover|acrescentar .. pedido|compra",
            // en
            "add|remove|swap|replace|change .. item|product|something|it .. order|purchase",
            "swap|switch .. item|product|color|colour|size",
        ],
    ),
    (
        Cue::ItemChange,
        &[
            "cambiar|modificar|corregir .. talla|color|producto|articulo|modelo|cantidad|piezas .. pedido|orden|compra",
            "trocar|mudar .. tamanho|cor|produto|item .. pedido|compra",
            "change .. size|color|colour|item|product .. order",
        ],
    ),
    (
        Cue::BeforeShipping,
        &[
            "antes de que .. manden|envien|salga|despachen|mandes|envie|llegue|salgan",
            "antes de enviar|mandar|salir|despachar",
            "aun|todavia no .. sale|salio|mandan|envian|enviado",
            "antes que|de .. enviem|saia|enviar",
            "before .. ships|ship|shipping|shipped|dispatch*",
        ],
    ),
    (
        Cue::CancelAfterShipping,
        &[
            "cancel* .. ya .. enviad*|salio|mandaron|despachad*|camino|transito|ruta",
            "cancel* .. ja .. enviad*|saiu|despachad*",
            "cancel* .. already|been .. shipped|dispatched|sent|way",
            "cancel* .. shipped|dispatched",
            // the shipment is mentioned first
            "ya .. enviad*|envio|envian|salio|mandaron|despacharon|camino ... cancel*",
            "ja .. enviad*|enviou|saiu|despachad* ... cancel*",
            "already .. shipped|dispatched|sent|way ... cancel*",
        ],
    ),
    (
        Cue::InvoiceCorrection,
        &[
            "refactur*|reexpedi*|reemiti*",
            "cancel*|corrig*|correg*|rehac*|hagan .. factura",
            "factura* .. mal|equivocad*|incorrect*|erroneo*|errad*",
            "nota fiscal .. errad*|errada|errado",
            "invoice .. wrong|incorrect|error",
        ],
    ),
    (
        Cue::ChargeDispute,
        &[
            "cobraron|cobro|cargaron|cobrado|cobrou|cobraram|charged ... regres*|devuelv*|devolv*|reembols*|refund*|back|devolvam|estorn*",
        ],
    ),
    (
        Cue::RefundDemand,
        &[
            "quiero|exijo|necesito .. devuelvan|regresen|reembolsen",
            "quiero|exijo|necesito mi dinero|reembolso|lana|plata",
            "devuelvan|regresen .. diferencia|dinero|lana|plata",
            "quero|preciso meu dinheiro",
            "quero|preciso que .. devolvam",
            "want|need|demand my money|refund",
            "refund the difference",
        ],
    ),
    (
        Cue::PolicyException,
        &[
            "aunque .. pasaron|paso|vencio|vencido|fuera",
            "ya pasaron|paso .. plazo|dias|tiempo",
            "fuera de|del plazo|tiempo|periodo",
            "excepcion",
            "though|although .. past|passed|over|after|expired",
            "past|after|beyond|over .. window|deadline|period|limit",
            "pasado|despues|fuera .. limite",
            "passou|depois|fora .. limite",
            "ja passou|passaram",
            "fora do prazo",
            "passou do prazo",
        ],
    ),
    (
        Cue::PickupAtCustomer,
        &[
            "venir|vengan|vienen|pasen .. recoger",
            "recojan|recolect*",
            "come .. pick|collect",
            "pick .. up from me|my",
            "venham buscar|coletar",
            "coleta|coletar",
        ],
    ),
    (
        Cue::StockQuestion,
        &[
            "tienen|tendran|tendra|hay|habra|manejan|queda|quedan|tiene ... en talla|color|numero|tamano|medida",
            "agotad*|existencia|resurt*",
            "sin stock",
            "tem|voces ... em tamanho|numero|cor",
            "esgotad*|estoque",
            "have ... in size|xl|xs|xxl|xxs|small|medium|large|stock",
            "sold out",
            "out of stock",
            "in stock",
            "restock*",
        ],
    ),
    (
        Cue::Wholesale,
        &[
            "mayoreo|mayorista*|wholesale|atacado|atacadista|revend*|reventa|distribuidor*|bulk|uniformes",
            "por|al mayor",
            "pedido|compra|compras|pedidos grande|grandes|corporativ*|empresarial|volumen",
            "grandes cantidades",
            "large|big|corporate order|orders|purchase",
        ],
    ),
    (
        Cue::Jobs,
        &[
            "contratando|contratan|vacante*|empleo|chamba|curriculum|cv|hiring|vaga|vagas|emprego|jobs",
            "trabajar|trabalhar .. ustedes|voces|tienda|loja|equipo|equipe",
            "job|position .. opening|available|apply",
            "work for|with you",
        ],
    ),
    (
        Cue::Partnership,
        &[
            "colabor*|influencer*|patrocin*|collab*|partnership|sponsor*|parceria|embajador*|afiliad*|ugc",
            "creador|creadora|criador|criadora|creator .. contenido|conteudo|content",
            "content creator",
        ],
    ),
];
